"""``--device`` values, checked before any work: an unknown device is a usage error (exit 2).

Why a check of our own: torch accepts many device strings and ours pass them on in several
places (fast metrics, CLIP, the official pipelines); some paths only look at a ``cuda`` prefix
and would silently run on the CPU for ``--device bogus``. gt-gen runs on ``cpu`` or
``cuda[:N]``; anything else, or a CUDA device this machine does not have, is refused with
the option named.
"""

from __future__ import annotations

import re

from gt_gen.errors import UsageError

DEVICE_RE = re.compile(r"^(cpu|cuda(:[0-9]{1,3})?)$")


def check_device(value: object, *, option: str = "--device") -> str:
    """``value`` if it names a device gt-gen can use here, else :class:`UsageError`."""
    if not isinstance(value, str) or not DEVICE_RE.match(value):
        shown = repr(value)[:60]
        raise UsageError(f"{option} {shown} is not a device: use cpu, cuda or cuda:N")
    if value.startswith("cuda"):
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(value.split(":")[1]) if ":" in value else 0
        if count == 0:
            raise UsageError(f"{option} {value}: no CUDA GPU is visible on this machine; "
                             "use --device cpu")
        if index >= count:
            raise UsageError(f"{option} {value}: this machine has {count} CUDA device(s) "
                             f"(cuda:0..cuda:{count - 1})")
    return value
