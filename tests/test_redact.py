"""Secrets never reach output: env tokens and URL credentials are redacted, whole."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from gt_gen.redact import redact


def test_url_credentials_and_env_tokens(monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefgh12345")
    text = "cloning https://user:ghp_zzz@github.com/x.git with hf_abcdefgh12345"
    out = redact(text)
    assert "ghp_zzz" not in out and "hf_abcdefgh12345" not in out
    assert "https://***@github.com/x.git" in out
    assert redact("plain text") == "plain text"


def test_password_holding_at_signs_is_redacted_whole() -> None:
    assert redact("GET https://user:pa@ss@host.example/x failed") == "GET https://***@host.example/x failed"
    assert redact("git:ssh://u:a@b:c@d@git.example:22/r.git") == "git:ssh://***@git.example:22/r.git"


# Userinfo as people write it: any printable non-space characters, '@', ':', '/', '%' included.
USERINFO = st.text(alphabet=string.ascii_letters + string.digits + string.punctuation,
                   min_size=1, max_size=40)
SCHEMES = st.sampled_from(["http", "https", "ssh", "git+https", "ftp", "HTTPS"])


@settings(max_examples=300, deadline=None)
@given(scheme=SCHEMES, userinfo=USERINFO, before=st.sampled_from(["", "error: ", "(", "'"]),
       after=st.sampled_from(["", " failed", ": HTTP 503", "\nnext line"]))
def test_any_userinfo_is_redacted_whole(scheme: str, userinfo: str, before: str, after: str) -> None:
    text = f"{before}{scheme}://{userinfo}@host.example:8443/ci/data{after}"
    assert redact(text) == f"{before}{scheme}://***@host.example:8443/ci/data{after}"


@settings(max_examples=100, deadline=None)
@given(userinfo=USERINFO)
def test_userinfo_is_redacted_in_json_and_markdown_too(userinfo: str) -> None:
    import json

    url = f"https://{userinfo}@host.example/r"
    assert json.dumps({"gt_source": redact(f"http:{url}")}) == '{"gt_source": "http:https://***@host.example/r"}'
    assert redact(f"| `http:{url}` |") == "| `http:https://***@host.example/r` |"
