"""Lookup order exactly as sglang's: official only if listed, platform first, all key frames."""

from __future__ import annotations

from pathlib import Path

from gt_gen.cases import load_registry
from gt_gen.naming import key_frame_names
from gt_gen.store.layout import dump_case_map, folder
from gt_gen.store.lookup import locate
from gt_gen.store.source import LocalDirSource, Presence

REG = load_registry()
OFFICIAL = REG.get("tiny_one_stage_t2v")
NATIVE = REG.get("ltx_2_two_stage_t2v")


def put(root: Path, fold: str, case, keys=("first", "mid", "last"), listed: bool = False) -> None:
    d = root / fold
    d.mkdir(parents=True, exist_ok=True)
    for k, n in key_frame_names(case).items():
        if k in keys:
            (d / n).write_bytes(b"x")
    if listed:
        (d / "case_map.json").write_text(dump_case_map({case.id: list(key_frame_names(case).values())}))


def test_official_needs_case_map_listing(tmp_path: Path) -> None:
    put(tmp_path, folder("official_generated"), OFFICIAL)
    put(tmp_path, folder("sglang_generated"), OFFICIAL)
    src = LocalDirSource(tmp_path)
    assert locate(src, OFFICIAL).folder == folder("sglang_generated")
    put(tmp_path, folder("official_generated"), OFFICIAL, listed=True)
    assert locate(src, OFFICIAL).folder == folder("official_generated")


def test_native_only_never_uses_official(tmp_path: Path) -> None:
    put(tmp_path, folder("official_generated"), NATIVE, listed=True)
    assert locate(LocalDirSource(tmp_path), NATIVE).status is Presence.MISSING
    put(tmp_path, folder("sglang_generated"), NATIVE)
    assert locate(LocalDirSource(tmp_path), NATIVE).folder == folder("sglang_generated")


def test_platform_before_default_and_complete_sets_only(tmp_path: Path) -> None:
    put(tmp_path, folder("sglang_generated"), NATIVE)
    put(tmp_path, folder("sglang_generated", "h100"), NATIVE, keys=("first", "mid"))  # incomplete
    src = LocalDirSource(tmp_path)
    assert locate(src, NATIVE, "h100").folder == folder("sglang_generated")
    put(tmp_path, folder("sglang_generated", "h100"), NATIVE)
    assert locate(src, NATIVE, "h100").folder == folder("sglang_generated", "h100")
    assert locate(src, NATIVE, None).folder == folder("sglang_generated")


class Flaky(LocalDirSource):
    """Probes of one folder are 'unknown' (network trouble)."""

    def __init__(self, root: Path, bad: str) -> None:
        super().__init__(root)
        self.bad = bad

    def probe(self, relpath: str) -> Presence:
        return Presence.UNKNOWN if relpath.startswith(self.bad) else super().probe(relpath)


def test_unknown_never_falls_through(tmp_path: Path) -> None:
    put(tmp_path, folder("sglang_generated"), NATIVE)
    src = Flaky(tmp_path, folder("sglang_generated", "h100"))
    # The platform folder could not be probed: using the default GT could be the wrong GT.
    assert locate(src, NATIVE, "h100").status is Presence.UNKNOWN


def test_image_gt_extension_order_is_sglangs(tmp_path: Path) -> None:
    """jpg, then png, then webp (sglang with no output format); an unknown probe of a
    preferred extension is unknown, never the next extension's file."""
    import dataclasses

    img = dataclasses.replace(NATIVE, modality="image", key_frames=("first",))
    d = tmp_path / folder("sglang_generated")
    d.mkdir(parents=True)
    stem = f"{img.id}_{img.gpus}gpu"
    for ext in ("webp", "png", "jpeg"):
        (d / f"{stem}.{ext}").write_bytes(b"x")
    src = LocalDirSource(tmp_path)
    assert locate(src, img).files == {"first": f"{folder('sglang_generated')}/{stem}.png"}
    (d / f"{stem}.jpg").write_bytes(b"x")
    assert locate(src, img).files == {"first": f"{folder('sglang_generated')}/{stem}.jpg"}

    class JpgUnknown(LocalDirSource):
        def probe(self, rel: str) -> Presence:
            return Presence.UNKNOWN if rel.endswith(".jpg") else super().probe(rel)

    assert locate(JpgUnknown(tmp_path), img).status is Presence.UNKNOWN
    (d / f"{stem}.jpg").unlink()
    (d / f"{stem}.png").unlink()
    (d / f"{stem}.webp").unlink()
    missing = locate(src, img)  # a .jpeg alone: sglang never looks for it
    assert missing.status is Presence.MISSING and ".jpg" in missing.detail


def test_an_incomplete_set_is_missing_and_says_so_truthfully(tmp_path: Path) -> None:
    """Two of three key frames: MISSING (a case needs all), and the detail does not claim that
    none were found (it did before)."""
    put(tmp_path, folder("sglang_generated"), NATIVE, keys=("first", "last"))
    got = locate(LocalDirSource(tmp_path), NATIVE)
    assert got.status is Presence.MISSING
    assert "none of" not in got.detail and "no folder holds all of" in got.detail
    assert all(n in got.detail for n in key_frame_names(NATIVE).values())
