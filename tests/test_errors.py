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
