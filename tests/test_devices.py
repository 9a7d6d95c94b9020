"""``--device``: cpu or cuda[:N] that this machine has; anything else is a usage error (exit 2)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from gt_gen.devices import DEVICE_RE, check_device
from gt_gen.errors import UsageError


def test_cpu_is_always_a_device() -> None:
    assert check_device("cpu") == "cpu"


@given(st.text(max_size=12))
def test_anything_else_is_refused_naming_the_option(value: str) -> None:
    if DEVICE_RE.match(value):
        return
    with pytest.raises(UsageError, match="--second-device"):
        check_device(value, option="--second-device")


@pytest.mark.parametrize("value", ["cuda", "cuda:0", "cuda:99"])
def test_cuda_only_where_it_exists(value: str) -> None:
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(value.split(":")[1]) if ":" in value else 0
    if index < count:
        assert check_device(value) == value
    else:
        with pytest.raises(UsageError, match="--device"):
            check_device(value)


@pytest.mark.parametrize("command", [
    ["compare", "--gt", "g", "--candidate", "c", "--out", "o", "--group", "tiny"],
    ["generate", "--group", "tiny", "--out", "o"],
    ["controls", "--group", "tiny", "--out", "o"],
])
def test_every_command_with_a_device_checks_it_first(command: list[str], tmp_path, capsys,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`compare --device bogus` used to be ignored silently; now it is exit 2 before any work."""
    from gt_gen import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main([*command, "--device", "bogus"]) == 2
    assert "--device 'bogus' is not a device" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    if command[0] == "controls":
        assert cli.main([*command, "--second-device", "tpu"]) == 2
        assert "--second-device" in capsys.readouterr().err
