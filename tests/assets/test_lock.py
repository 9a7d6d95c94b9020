"""The assets lock: strict reading, atomic writing, and case loading that attaches its pins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gt_gen.assets import LOCK_NAME
from gt_gen.assets.lock import Lock, Pin, check_url, read_lock, write_lock
from gt_gen.assets.pin import asset_name
from gt_gen.cases import load_group_file, load_registry
from gt_gen.errors import ConfigError
from gt_gen.names import safe_name
from tests.assets.image_server import edit_case, ltx_case

SHA = "ab" * 32
URL = "https://example.org/img/TI2I_Input.jpg"


def _pin(folder: Path, url: str = URL, **kw: object) -> Pin:
    base = dict(url=url, file="TI2I_Input-abababababab.jpg", sha256=SHA, size_bytes=10,
                pinned_at="2026-01-02T03:04:05Z", format="JPEG", width=64, height=48,
                served_from=url, path=folder / "TI2I_Input-abababababab.jpg")
    base.update(kw)
    return Pin(**base)  # type: ignore[arg-type]


def test_round_trip_is_sorted_strict_json(tmp_path: Path) -> None:
    lock = Lock(tmp_path, {URL: _pin(tmp_path), "https://a.example/x.png": _pin(
        tmp_path, "https://a.example/x.png", file="x-abababababab.png", format="PNG")})
    write_lock(lock)
    text = (tmp_path / LOCK_NAME).read_text()
    assert text.index("https://a.example") < text.index("https://example.org")
    assert read_lock(tmp_path) == lock
    assert [p.name for p in tmp_path.iterdir()] == [LOCK_NAME]  # no temp file left


def test_missing_lock_is_empty(tmp_path: Path) -> None:
    assert read_lock(tmp_path / "nowhere").pins == {}


def _write(tmp_path: Path, body: object) -> Path:
    (tmp_path / LOCK_NAME).write_text(body if isinstance(body, str) else json.dumps(body))
    return tmp_path


def _entry(**kw: object) -> dict:
    e = _pin(Path(".")).record()
    e.update(kw)
    return e


@pytest.mark.parametrize("body, message", [
    ('{"schema_version": 1, "pins": {}, "pins": {}}', "duplicate key"),
    ({"schema_version": 2, "pins": {}}, "schema_version must be 1"),
    ({"schema_version": 1, "pins": {}, "extra": 1}, "unknown key"),
    ({"schema_version": 1, "pins": []}, "'pins' must be an object"),
    ({"schema_version": 1, "pins": {URL: _entry(file="../escape.jpg")}}, "a name, not a path"),
    ({"schema_version": 1, "pins": {URL: _entry(file="sub/x.jpg")}}, "a name, not a path"),
    ({"schema_version": 1, "pins": {URL: _entry(sha256="AB" * 32)}}, "64 lowercase hex"),
    ({"schema_version": 1, "pins": {URL: _entry(size_bytes=0)}}, "size_bytes"),
    ({"schema_version": 1, "pins": {URL: _entry(size_bytes=True)}}, "size_bytes must be int"),
    ({"schema_version": 1, "pins": {URL: _entry(width=100000)}}, "outside"),
    ({"schema_version": 1, "pins": {URL: _entry(format="GIF")}}, "format must be one of"),
    ({"schema_version": 1, "pins": {URL: _entry(pinned_at="yesterday")}}, "UTC time"),
    ({"schema_version": 1, "pins": {URL: _entry(note="x")}}, "unknown \\['note'\\]"),
    ({"schema_version": 1, "pins": {"ftp://h/x.jpg": _entry()}}, "http\\(s\\)"),
    ({"schema_version": 1, "pins": {"https://u:pw@h/x.jpg": _entry()}}, "carries credentials"),
    ({"schema_version": 1, "pins": {URL: _entry(), "https://h/y.jpg": _entry(sha256="cd" * 32)}},
     "two different sha256"),
    ("[1, 2]", "must be a JSON object"),
    ('{"schema_version": NaN}', "NaN"),
])
def test_malformed_lock_is_refused_naming_it(tmp_path: Path, body: object, message: str) -> None:
    _write(tmp_path, body)
    with pytest.raises(ConfigError, match=message) as err:
        read_lock(tmp_path)
    assert LOCK_NAME in err.value.one_line() and "pw" not in err.value.one_line()


def test_case_loading_attaches_only_the_pins_a_case_uses(tmp_path: Path) -> None:
    url_b, url_v = "https://h.example/b.png", "https://h.example/v.jpg"
    (tmp_path / "g.toml").write_text(edit_case("edit_a", [URL]) + edit_case("edit_b", [url_b])
                                     + ltx_case("ltx_v", url_v))
    assert all(not c.input_pins for c in load_registry(tmp_path).cases)  # no lock: nothing pinned
    assets = tmp_path / "assets"
    write_lock(Lock(assets, {URL: _pin(assets), url_v: _pin(assets, url_v, file="v-ab.jpg",
                                                              sha256="cd" * 32)}))
    reg = load_registry(tmp_path)
    assert list(reg.get("edit_a").input_pins) == [URL]
    assert reg.get("edit_a").input_pins[URL].path == assets / "TI2I_Input-abababababab.jpg"
    assert reg.get("edit_b").input_pins == {}
    assert list(reg.get("ltx_v").input_pins) == [url_v]
    assert [c.id for c in load_group_file(tmp_path / "g.toml") if c.input_pins] == ["edit_a", "ltx_v"]
    (assets / LOCK_NAME).write_text("{")
    with pytest.raises(ConfigError, match="malformed JSON") as err:  # every command fails closed
        load_registry(tmp_path)
    assert LOCK_NAME in err.value.one_line()


def test_conditioning_image_path_without_sha256_is_refused(tmp_path: Path) -> None:
    text = ltx_case("ltx_v", "https://h.example/v.jpg") + 'path = "assets/v.jpg"\n'
    (tmp_path / "g.toml").write_text(text)
    with pytest.raises(ConfigError, match="path needs its sha256.*gt-gen assets pin"):
        load_registry(tmp_path)


def test_the_official_url_cases_carry_sglangs_urls_and_nothing_else() -> None:
    """What sglang's CI sends (testcase_configs.py TI2I / MULTI_IMAGE_TI2I / MULTI_FRAME_I2I /
    TI2V sampling params), recorded in the cases; no path or digest of ours beside them."""
    from gt_gen.assets.case_inputs import inputs_of

    reg = load_registry()
    ti2i = "https://github.com/lm-sys/lm-sys.github.io/releases/download/test/TI2I_Qwen_Image_Edit_Input.jpg"
    edit2509 = "https://qianwen-res.oss-cn-beijing.aliyuncs.com/Qwen-Image/edit2509/edit2509_{}.jpg"
    want = {
        "qwen_image_edit_ti2i": [ti2i], "qwen_image_edit_2511_ti2i": [ti2i], "flux_2_ti2i": [ti2i],
        "qwen_image_edit_2509_ti2i": [edit2509.format(1), edit2509.format(2)],
        "qwen_image_layered_i2i": ["https://raw.githubusercontent.com/QwenLM/Qwen-Image-Layered/"
                                   "main/assets/test_images/4.png"],
        "ltx_2.3_one_stage_ti2v": ["https://is1-ssl.mzstatic.com/image/thumb/Music114/v4/5f/fa/56/"
                                   "5ffa56c2-ea1f-7a17-6bad-192ff9b6476d/825646124206.jpg/"
                                   "600x600bb.jpg"]}
    for cid, urls in want.items():
        refs = inputs_of(reg.get(cid))
        assert [r.url for r in refs] == urls, cid
        assert all(not r.path and not r.sha256 for r in refs), cid
        sampling = reg.get(cid).sglang.sampling
        assert list(sampling.image_urls) == urls, cid


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=80), st.sampled_from(["JPEG", "PNG", "WEBP"]),
       st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
def test_asset_names_are_safe_for_any_url(path: str, fmt: str, sha: str) -> None:
    from urllib.parse import quote

    url = "https://h.example/" + quote(path, safe="/")
    name = asset_name(url, sha, fmt)
    assert safe_name(name) == name and "/" not in name and ".." not in name
    assert name.endswith(f"-{sha[:12]}." + {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[fmt])
    assert asset_name(url, sha, fmt) == name  # stable


def test_asset_name_examples() -> None:
    assert asset_name("https://h/a/TI2I_Qwen_Image_Edit_Input.jpg", SHA, "JPEG") == \
        "TI2I_Qwen_Image_Edit_Input-abababababab.jpg"
    assert asset_name("https://h/x/..%2F..%2Fetc%2Fpasswd", SHA, "PNG") == \
        "passwd-abababababab.png"
    assert asset_name("https://h/", SHA, "WEBP") == "input-abababababab.webp"


@pytest.mark.parametrize("url", ["ftp://h/x", "https:///x", "https://u:p@h/x", "https://h/a b",
                                 "https://h:99999/x", 7])
def test_check_url_refuses(url: object) -> None:
    with pytest.raises(ConfigError):
        check_url(url)
