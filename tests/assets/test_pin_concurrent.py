"""Two `assets pin` runs at once: each keeps what the other pinned (the folder is locked while
files and the lock are written)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import gt_gen.assets.pin as pin_module
from gt_gen.assets.download import Fetched
from gt_gen.assets.lock import read_lock
from gt_gen.assets.pin import pin_urls
from tests.assets.image_server import image_bytes


def test_concurrent_pins_keep_each_others_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_lock = pin_module.write_lock

    def slow_write_lock(lock: object) -> None:  # a slow disk widens the race window
        time.sleep(0.05)
        write_lock(lock)  # type: ignore[arg-type]

    monkeypatch.setattr(pin_module, "write_lock", slow_write_lock)
    folder = tmp_path / "assets"
    urls = [f"https://h.example/in{i}.png" for i in range(6)]
    data = {u: image_bytes("PNG", size=(32, 32), seed=i) for i, u in enumerate(urls)}
    barrier = threading.Barrier(len(urls))

    def slow_fetch(url: str) -> Fetched:
        barrier.wait(timeout=30)  # every run has read the (empty) lock before any writes
        time.sleep(0.01)
        return Fetched(data[url], url)

    errors: list[BaseException] = []

    def one(url: str) -> None:
        try:
            pin_urls([url], folder, fetcher=slow_fetch)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(u,)) for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    lock = read_lock(folder)
    assert sorted(lock.pins) == sorted(urls)
    for u in urls:
        assert (folder / lock.pins[u].file).read_bytes() == data[u]
    assert sorted(p.name for p in folder.iterdir()) == sorted([*(lock.pins[u].file for u in urls),
                                                               lock.path.name])
