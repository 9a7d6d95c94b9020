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
        """The message flattened to one line, prefixed with the file (and case) when known."""
        msg = " ".join(str(self).split())
        if self.case_id and self.case_id not in msg:
            msg = f"case {self.case_id}: {msg}"
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


#: A hint for the OS errors a user can fix, by errno name.
_OS_HINTS = {
    "ENOENT": "not found",
    "EACCES": "permission denied: check the file's and its folder's permissions",
    "EPERM": "operation not permitted: check the file's and its folder's permissions",
    "EISDIR": "is a directory where a file was expected",
    "ENOTDIR": "a part of this path is a file where a folder was expected",
    "EEXIST": "already exists",
    "ENOSPC": "no space left on the device: free some space and rerun",
    "EDQUOT": "disk quota exceeded: free some space and rerun",
    "EROFS": "read-only file system: choose a writable output folder",
    "ENAMETOOLONG": "file name too long",
    "ELOOP": "too many levels of symbolic links",
    "ENOTEMPTY": "folder not empty",
    "EMFILE": "too many open files",
    "ETXTBSY": "file busy",
    "EFBIG": "file too large",
}


def describe_os_error(exc: OSError) -> str:
    """One line for an :class:`OSError`: the file(s) it names, then what went wrong and what
    to do, never a bare ``[Errno N] ...``."""
    import errno as errno_mod

    name = errno_mod.errorcode.get(exc.errno or -1, "")
    what = _OS_HINTS.get(name) or (exc.strerror or "").lower() or " ".join(str(exc).split())
    files = [str(f) for f in (exc.filename, exc.filename2) if f is not None]
    if not files and isinstance(exc, BrokenPipeError):
        return "output closed before gt-gen finished writing (broken pipe)"
    if not files and (isinstance(exc, ConnectionError) or name.startswith("ECONN")):
        return f"network error: {what or type(exc).__name__} (is the server reachable?)"
    where = " -> ".join(files)
    if not where:
        return f"{what or type(exc).__name__} ({type(exc).__name__})"
    return f"{where}: {what}"


def exit_code_and_line(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one line the CLI prints for ``exc`` (the one mapping of gt-gen).

    Deliberate errors keep their own code (2, or 1 for a gate); an :class:`OSError` is about
    the user's files or network (2); anything else is a bug in gt-gen (3)."""
    if isinstance(exc, GtGenError):
        return exc.exit_code, f"gt-gen: error: {exc.one_line()}"
    if isinstance(exc, OSError):
        return 2, f"gt-gen: error: {describe_os_error(exc)}"
    msg = " ".join(str(exc).split())
    return 3, f"gt-gen: internal error: {type(exc).__name__}: {msg} (rerun with --debug)"
