"""gt-gen: ground truth from the official pipelines, and the consistency gate that uses it."""

__version__ = "0.1.0"
