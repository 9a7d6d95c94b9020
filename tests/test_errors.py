"""Error classes carry data, flatten to one line, and belong to their built-in families."""

from __future__ import annotations

import pytest

from gt_gen import errors


def test_families_and_exit_codes() -> None:
    assert issubclass(errors.MissingFileError, FileNotFoundError)
    assert issubclass(errors.WeightsError, FileNotFoundError)
    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.NetworkError, ConnectionError)
    assert issubclass(errors.UnknownCaseError, KeyError)
    assert issubclass(errors.ShapeMismatchError, errors.InputFileError)
    assert errors.QualityGateError("x").exit_code == 1
    assert all(c("x").exit_code == 2 for c in (errors.ConfigError, errors.InputFileError,
                                              errors.IntegrityError, errors.NetworkError))


def test_one_line_names_the_file_once() -> None:
    e = errors.InputFileError("truncated mp4:\n  moov atom not found", path="c/a.mp4", case_id="a")
    assert e.one_line() == "c/a.mp4: truncated mp4: moov atom not found"
    assert (e.case_id, e.path) == ("a", "c/a.mp4")
    assert errors.ConfigError("c/a.toml has a bad key", path="c/a.toml").one_line() == "c/a.toml has a bad key"


def test_unknown_case_message_is_not_quoted() -> None:
    with pytest.raises(KeyError) as info:
        raise errors.UnknownCaseError("unknown case id 'x'", case_id="x")
    assert str(info.value) == "unknown case id 'x'"


def test_one_line_names_the_case_when_the_message_does_not() -> None:
    assert errors.InputFileError("frame is 64x64 but the GT is 32x32", case_id="c1").one_line() == \
        "case c1: frame is 64x64 but the GT is 32x32"
    assert errors.InputFileError("c1 is broken", case_id="c1").one_line() == "c1 is broken"


@pytest.mark.parametrize(("exc", "code", "line"), [
    (errors.ConfigError("bad", path="a.json"), 2, "gt-gen: error: a.json: bad"),
    (errors.QualityGateError("blank"), 1, "gt-gen: error: blank"),
    (FileNotFoundError(2, "No such file or directory", "x/y"), 2, "gt-gen: error: x/y: not found"),
    (OSError(28, "No space left on device", "o/f"), 2,
     "gt-gen: error: o/f: no space left on the device: free some space and rerun"),
    (OSError(18, "Invalid cross-device link", "a", None, "b"), 2, "gt-gen: error: a -> b: invalid cross-device link"),
    (ConnectionRefusedError(111, "Connection refused"), 2, "gt-gen: error: network error: connection refused "
                                                           "(is the server reachable?)"),
    (ValueError("x"), 3, "gt-gen: internal error: ValueError: x (rerun with --debug)"),
])
def test_exit_code_and_line(exc: BaseException, code: int, line: str) -> None:
    assert errors.exit_code_and_line(exc) == (code, line)
