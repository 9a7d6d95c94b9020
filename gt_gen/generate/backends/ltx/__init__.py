"""The official LTX-2 backend: ``ltx-pipelines`` 1.0.0, unmodified, on hub or tiny checkpoints."""
