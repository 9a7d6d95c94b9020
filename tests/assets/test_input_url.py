"""Input-image URLs in case files: plain http(s) with a host, never credentials."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gt_gen.assets.case_inputs import input_url_problem
from gt_gen.cases import load_group_file
from gt_gen.errors import ConfigError


@pytest.mark.parametrize("url", ["https://example.org/a.jpg", "http://127.0.0.1:8080/x.png",
                                 "https://raw.githubusercontent.com/o/r/main/assets/4.png"])
def test_plain_urls_are_accepted(url: str) -> None:
    assert input_url_problem(url) is None


@pytest.mark.parametrize("url", ["ftp://example.org/a.jpg", "file:///etc/passwd", "example.org/a.jpg",
                                 "https://user:secret@example.org/a.jpg", "https://tok@example.org/a",
                                 "https:///a.jpg", "https://exa mple.org/a.jpg", "https://[::1/a"])
def test_bad_urls_are_refused(url: str) -> None:
    assert input_url_problem(url)


@settings(max_examples=200, deadline=None)
@given(user=st.text(st.characters(codec="ascii", exclude_characters="@/?#[]"), min_size=1, max_size=20),
       secret=st.text(st.characters(codec="ascii", exclude_characters="@/?#[]"), min_size=4, max_size=20))
def test_any_userinfo_is_refused(user: str, secret: str) -> None:
    assert input_url_problem(f"https://{user}:{secret}@example.org/i.png")


def _case_file(tmp_path: Path, url: str) -> Path:
    p = tmp_path / "g.toml"
    p.write_text(f"""
[[case]]
id = "c"
modality = "image"
backend = "diffusers"
pipeline = "QwenImageEditPipeline"
comparability = "official"
implementation = "diffusers QwenImageEditPipeline"
gpus = 1
runner = "1-gpu-h100"
[case.model]
repo = "Qwen/Qwen-Image-Edit"
revision = "main"
[case.request]
prompt = "p"
negative_prompt = " "
width = 64
height = 64
steps = 2
seed = 1
[case.request.qwen_image]
true_cfg_scale = 4.0
[[case.request.qwen_image.images]]
url = "{url}"
""")
    return p


def test_case_file_with_a_plain_input_url_loads(tmp_path: Path) -> None:
    assert load_group_file(_case_file(tmp_path, "https://example.org/in.jpg"))[0].id == "c"


def test_case_file_with_credentials_in_an_input_url_is_refused_without_echoing_them(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_group_file(_case_file(tmp_path, "https://me:hunter2secret@example.org/in.jpg"))
    assert "credentials" in str(exc.value) and "hunter2secret" not in str(exc.value)
