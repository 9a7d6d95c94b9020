"""Strict, bounded JSON input: the one way gt-gen reads a JSON file or JSON bytes it did not write.

Why strict: Python's ``json`` accepts what no gate should — ``NaN`` / ``Infinity`` (a gate of
``-Infinity`` passes everything), duplicate keys (the last one silently wins: a gate of ``-1.0``
can hide behind a correct one), integers of thousands of digits (slow to convert, raises a
``ValueError`` deep inside) and nesting deep enough to overflow the parser's recursion. Why
bounded: a "file" may be ``/dev/zero`` or a FIFO, which would hang or fill memory. Every
failure is a :class:`~gt_gen.errors.ConfigError` naming the file, so the CLI prints one line
and exits 2.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from gt_gen.errors import ConfigError, MissingFileError

#: Largest JSON document read (results of thousands of cases fit easily).
MAX_BYTES = 64 * 1024 * 1024
#: Deepest nesting accepted; real files nest a handful of levels.
MAX_DEPTH = 64
#: Longest integer literal accepted (sglang's files hold small numbers only).
MAX_INT_DIGITS = 30


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (not standard JSON)")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits is not allowed")
    return int(text)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _max_depth(text: str) -> int:
    """Nesting depth of brackets outside strings, found without recursion."""
    depth = best = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > best:
                best = depth
                if best > MAX_DEPTH:
                    return best
        elif ch in "]}":
            depth -= 1
    return best


def loads(data: bytes | str, where: str | Path) -> Any:
    """Parse JSON strictly; ``where`` names the file in the error."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start}); expected JSON",
                          path=where) from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    if _max_depth(text) > MAX_DEPTH:
        raise ConfigError(f"malformed JSON: nested deeper than {MAX_DEPTH} levels", path=where)
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int,
                          object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                          path=where) from exc
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"malformed JSON: {' '.join(str(exc).split()) or type(exc).__name__}",
                          path=where) from exc


def read_regular_bytes(path: str | Path, *, max_bytes: int = MAX_BYTES, what: str = "file") -> bytes:
    """The bytes of a *regular* file of at most ``max_bytes``.

    A directory, FIFO, socket or device (``/dev/zero``) is refused before it is opened for
    reading, so no read can hang or run away; ``O_NONBLOCK`` guards the race in between."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError as exc:
        raise MissingFileError(f"{what} not found", path=p) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror}", path=p) from exc
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"{what} is a directory, expected a file", path=p)
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"{what} is not a regular file (a device, FIFO or socket)", path=p)
    if st.st_size > max_bytes:
        raise ConfigError(f"{what} is {st.st_size} bytes, more than the {max_bytes} allowed", path=p)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror}", path=p) from exc
    if len(data) > max_bytes:
        raise ConfigError(f"{what} is larger than the {max_bytes} bytes allowed", path=p)
    return data


def load_file(path: str | Path, *, what: str = "JSON file") -> Any:
    """Read and strictly parse a JSON file (see :func:`loads`, :func:`read_regular_bytes`)."""
    return loads(read_regular_bytes(path, what=what), path)
