"""strict_fp32: TF32 is off inside a reference-precision run and the user's settings come back."""

import pytest
import torch

from gt_gen.strict_fp32 import strict_fp32
from gt_gen.trace.official_hooks import official_precision


def _flags() -> tuple[bool, bool]:
    return torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32


def _set(flags: tuple[bool, bool]) -> None:
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = flags


@pytest.mark.parametrize("before", [(True, True), (True, False), (False, True), (False, False)])
def test_strict_fp32_turns_tf32_off_and_restores(before: tuple[bool, bool]) -> None:
    saved = _flags()
    try:
        _set(before)
        with strict_fp32():
            assert _flags() == (False, False)
        assert _flags() == before
        with pytest.raises(RuntimeError), strict_fp32():
            raise RuntimeError("a failing run still restores the flags")
        assert _flags() == before
        with strict_fp32(False):
            assert _flags() == before
    finally:
        _set(saved)


def test_official_fp32_runs_without_tf32_and_bf16_is_untouched() -> None:
    saved = _flags()
    try:
        _set((True, True))
        with official_precision("fp32"):
            assert _flags() == (False, False)
        assert _flags() == (True, True)
        with official_precision("bf16"):
            assert _flags() == (True, True)
    finally:
        _set(saved)
