"""Secrets never reach output: env tokens and URL credentials are redacted."""

from __future__ import annotations

from gt_gen.redact import redact


def test_url_credentials_and_env_tokens(monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefgh12345")
    text = "cloning https://user:ghp_zzz@github.com/x.git with hf_abcdefgh12345"
    out = redact(text)
    assert "ghp_zzz" not in out and "hf_abcdefgh12345" not in out
    assert "https://***@github.com/x.git" in out
    assert redact("plain text") == "plain text"
