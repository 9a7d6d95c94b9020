"""Every exception gt-gen raises on purpose, in one place.

Why one module: the CLI maps these classes to exit codes in exactly one spot
(:mod:`gt_gen.cli`), and callers can catch them by built-in family too, because each
class also inherits the built-in that describes it (``FileNotFoundError``,
``ValueError``, ``ConnectionError``), as huggingface_hub does. Each carries the data a
report needs (case id, path, url) and a one-line message that names the fix.
"""

from __future__ import annotations

from pathlib import Path


class GtGenError(Exception):
    """Base of all deliberate gt-gen errors; ``exit_code`` is what the CLI returns."""

    exit_code: int = 2

    def __init__(self, message: str, *, path: str | Path | None = None,
                 case_id: str | None = None, url: str | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.case_id = case_id
        self.url = url
        super().__init__(message)

    def one_line(self) -> str:
        """The message flattened to one line, prefixed with the file when known."""
        msg = " ".join(str(self).split())
        if self.path and self.path not in msg:
            msg = f"{self.path}: {msg}"
        return msg


class UsageError(GtGenError, ValueError):
    """Wrong command-line usage (conflicting or missing options)."""


class ConfigError(GtGenError, ValueError):
    """A case file, thresholds file or other configuration is malformed."""


class UnknownCaseError(GtGenError, KeyError):
    """A case id that no case file defines."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InputFileError(GtGenError, ValueError):
    """An input image or video cannot be used (corrupt, truncated, empty, wrong shape)."""


class MissingFileError(GtGenError, FileNotFoundError):
    """A required file (GT, candidate, weights) does not exist."""


class ShapeMismatchError(InputFileError):
    """GT and candidate frames differ in size; sglang never resizes, so neither do we."""


class IntegrityError(GtGenError, ValueError):
    """A file's sha256 does not match the manifest that lists it; never compared."""


class NetworkError(GtGenError, ConnectionError):
    """A network operation failed after its retries; the outcome is unknown, not missing."""


class GitError(GtGenError, RuntimeError):
    """A git command failed."""


class WeightsError(MissingFileError):
    """Model weights could not be resolved (offline, missing token, wrong revision)."""


class QualityGateError(GtGenError, ValueError):
    """Publishing refused: the GT failed the quality gate (a gate, so exit 1)."""

    exit_code = 1


class GenerationError(GtGenError, RuntimeError):
    """One case failed to generate; recorded in the manifest, the group goes on."""
