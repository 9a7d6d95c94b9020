"""HTTP source fault tests against a loopback server: zero false 'missing', zero false passes."""

from __future__ import annotations

import pytest

from gt_gen.errors import MissingFileError, NetworkError, UsageError
from gt_gen.store.cache import BlobCache
from gt_gen.store.http_source import HttpSource
from gt_gen.store.source import Presence
from tests.store.loopback import Loopback

COMMIT = "a" * 40


@pytest.fixture
def srv():
    s = Loopback()
    yield s
    s.close()


def source(srv, tmp_path=None, **kw) -> HttpSource:
    cache = BlobCache(tmp_path / "cache") if tmp_path is not None else None
    return HttpSource(srv.base, COMMIT, cache=cache, timeout=0.5, attempts=3, backoff=0.01,
                      sleep=lambda s: None, **kw)


def put(srv, name: str, data: bytes = b"PNGDATA") -> str:
    path = f"/{COMMIT}/{name}"
    srv.script.files[path] = data
    return path


def test_present_missing_and_head_refused(srv) -> None:
    put(srv, "a.png")
    p = put(srv, "b.png")
    srv.script.head_refused.add(p)
    src = source(srv)
    assert src.probe("a.png") is Presence.PRESENT
    assert src.probe("b.png") is Presence.PRESENT  # HEAD 405 -> GET Range bytes=0-0
    assert ("GET", p) in srv.script.log
    assert src.probe("nope.png") is Presence.MISSING


@pytest.mark.parametrize("fault", ["status:500", "status:503", "status:502", "reset", "timeout", "status:429"])
def test_transient_faults_recover_or_stay_unknown(srv, fault: str) -> None:
    p = put(srv, "a.png")
    srv.script.steps[p] = [fault, fault, "ok"]  # a burst shorter than the retry budget
    assert source(srv).probe("a.png") is Presence.PRESENT
    srv.script.steps[p] = [fault]  # persistent: never 'missing', never present
    assert source(srv).probe("a.png") is Presence.UNKNOWN
    missing = f"/{COMMIT}/gone.png"
    srv.script.steps[missing] = [fault]
    assert source(srv).probe("gone.png") is Presence.UNKNOWN  # a 404 hidden behind faults


@pytest.mark.parametrize("fault", ["timeout", "reset", "head_answered_get_stalls"])
def test_a_source_that_never_answers_is_not_asked_again(srv, fault: str) -> None:
    """No HTTP answer to a whole round of attempts (a server that accepts and stalls, or resets,
    or refuses HEAD and then stalls the GET that follows): later probes and reads are unknown at
    once, with the reason and no request, instead of a round of timeouts per file (a fetch of 11
    cases was still probing after 5 minutes). Never missing, never present."""
    steps = ["status:405", "timeout"] * 3 + ["timeout"] if fault == "head_answered_get_stalls" else [fault]
    for name in ("a.png", "b.png", "c.png"):
        srv.script.steps[put(srv, name)] = list(steps)
    src = source(srv)
    assert src.probe("a.png") is Presence.UNKNOWN
    asked = src.requests_made
    assert asked == (6 if fault == "head_answered_get_stalls" else 3) and "not asked again" in src.last_error
    assert ("ConnectionError" if fault == "reset" else "ReadTimeout") in src.last_error
    assert src.probe("b.png") is Presence.UNKNOWN and src.requests_made == asked
    assert "no answer to 3 attempts in a row" in src.last_error
    with pytest.raises(NetworkError, match="not asked again; the GT state is unknown"):
        src.read_bytes("c.png")
    assert src.requests_made == asked and srv.script.requests[f"/{COMMIT}/b.png"] == 0


def test_a_source_that_answers_with_errors_is_still_asked_per_file(srv) -> None:
    """HTTP errors are answers about one file: after one file's round of 500s, the next file is
    asked (and found); one answer among the failures resets the count."""
    srv.script.steps[put(srv, "a.png")] = ["status:500"]
    put(srv, "b.png")
    src = source(srv)
    assert src.probe("a.png") is Presence.UNKNOWN and not src.gone
    assert src.probe("b.png") is Presence.PRESENT
    srv.script.steps[put(srv, "c.png")] = ["reset", "reset", "status:500"]
    assert src.probe("c.png") is Presence.UNKNOWN and not src.gone
    assert src.probe("b.png") is Presence.PRESENT


def test_truncated_body_is_retried_then_an_error(srv) -> None:
    p = put(srv, "a.png", b"x" * 1000)
    srv.script.steps[p] = ["truncate", "ok"]
    assert source(srv).read_bytes("a.png") == b"x" * 1000
    srv.script.steps[p] = ["truncate"]
    with pytest.raises(NetworkError, match="unknown"):
        source(srv).read_bytes("a.png")


def test_slow_but_in_time_is_fine(srv) -> None:
    p = put(srv, "a.png", b"slow")
    srv.script.steps[p] = ["slow"]
    assert source(srv).read_bytes("a.png") == b"slow"


def test_a_trickling_body_is_timed_out_as_a_whole(srv) -> None:
    """A byte every 0.1 s never trips a 0.5 s read timeout; the body's own deadline (timeout +
    size at MIN_BODY_RATE) does, each attempt, and the source is then not asked again."""
    import time

    p = put(srv, "a.png", b"x" * 200)
    q = put(srv, "b.png")
    srv.script.steps[p] = ["trickle"] * 3
    src = source(srv)
    t0 = time.monotonic()
    with pytest.raises(NetworkError, match="body too slow"):
        src.read_bytes("a.png")
    assert time.monotonic() - t0 < 3 * (0.5 + 0.2) + 1  # 3 attempts, each cut at ~0.5 s
    with pytest.raises(NetworkError, match="not asked again"):
        src.read_bytes("b.png")
    assert srv.script.requests[q] == 0


def test_read_missing_is_missing(srv) -> None:
    with pytest.raises(MissingFileError):
        source(srv).read_bytes("none.png")


def test_second_fetch_at_same_commit_makes_no_request(srv, tmp_path) -> None:
    put(srv, "a.png", b"one")
    for _ in range(2):
        src = source(srv, tmp_path)
        assert src.probe("a.png") is Presence.PRESENT
        assert src.probe("absent.png") is Presence.MISSING
        assert src.read_bytes("a.png") == b"one"
    assert src.requests_made == 1  # only the 404 is asked again: absences are never cached
    assert sum(srv.script.requests.values()) == 4  # HEAD a, HEAD absent, GET a; HEAD absent again


def test_branch_refs_are_refused(srv) -> None:
    with pytest.raises(UsageError, match="40-hex"):
        HttpSource(srv.base, "main")


def test_token_never_leaks(srv, monkeypatch) -> None:
    monkeypatch.setenv("CI_DATA_TOKEN", "tok_super_secret_999")
    src = HttpSource("http://user:tok_super_secret_999@127.0.0.1:1", COMMIT, timeout=0.2,
                     attempts=2, backoff=0.0, sleep=lambda s: None)
    assert "tok_super_secret_999" not in src.description
    with pytest.raises(NetworkError) as exc:
        src.read_bytes("a.png")
    assert "tok_super_secret_999" not in str(exc.value) and "tok_super_secret_999" not in exc.value.one_line()


# -- where credentials go ------------------------------------------------------------------
TOKEN = "tok_never_over_http_4242"


def _auth_seen(srv) -> list[str | None]:
    return [a for _, a in srv.script.auth]


def test_env_token_is_not_sent_over_plain_http(srv, monkeypatch) -> None:
    monkeypatch.setenv("CI_DATA_TOKEN", TOKEN)
    monkeypatch.delenv("GT_GEN_ALLOW_HTTP_TOKEN_LOOPBACK", raising=False)
    put(srv, "a.png", b"x")
    src = source(srv)
    assert src.probe("a.png") is Presence.PRESENT and src.read_bytes("a.png") == b"x"
    assert _auth_seen(srv) and not any(_auth_seen(srv))


def test_url_userinfo_is_not_sent_over_plain_http_nor_shown(srv, monkeypatch) -> None:
    monkeypatch.delenv("GT_GEN_ALLOW_HTTP_TOKEN_LOOPBACK", raising=False)
    put(srv, "a.png", b"x")
    base = srv.base.replace("http://", "http://user:pa@ss:w0rd@")
    src = HttpSource(base, COMMIT, timeout=0.5, attempts=2, backoff=0.0, sleep=lambda s: None)
    assert src.read_bytes("a.png") == b"x"
    assert not any(_auth_seen(srv))
    assert "pa@ss" not in src.description and "w0rd" not in src.description and "user" not in src.base


def test_loopback_opt_in_sends_the_token_to_that_host_only(srv, monkeypatch) -> None:
    monkeypatch.setenv("CI_DATA_TOKEN", TOKEN)
    monkeypatch.setenv("GT_GEN_ALLOW_HTTP_TOKEN_LOOPBACK", "1")
    put(srv, "a.png", b"x")
    assert source(srv).read_bytes("a.png") == b"x"
    assert _auth_seen(srv) == [f"token {TOKEN}"]
    # A redirect to another host (localhost is not 127.0.0.1 by name) carries no token.
    other = Loopback()
    try:
        other.script.files[f"/{COMMIT}/b.png"] = b"elsewhere"
        port = other.base.rsplit(":", 1)[1]
        srv.script.steps[f"/{COMMIT}/b.png"] = [f"redirect:http://localhost:{port}/{COMMIT}/b.png"]
        assert source(srv).read_bytes("b.png") == b"elsewhere"
        assert ("/" + COMMIT + "/b.png", f"token {TOKEN}") in srv.script.auth
        assert _auth_seen(other) == [None]
    finally:
        other.close()


def test_redirect_on_the_same_host_keeps_the_token(srv, monkeypatch) -> None:
    monkeypatch.setenv("CI_DATA_TOKEN", TOKEN)
    monkeypatch.setenv("GT_GEN_ALLOW_HTTP_TOKEN_LOOPBACK", "1")
    put(srv, "real.png", b"r")
    srv.script.steps[f"/{COMMIT}/moved.png"] = [f"redirect:/{COMMIT}/real.png"]
    assert source(srv).read_bytes("moved.png") == b"r"
    assert _auth_seen(srv) == [f"token {TOKEN}", f"token {TOKEN}"]


@pytest.mark.parametrize(("url", "base", "allow", "sent"), [
    ("https://h.example/c/a.png", "https://h.example/c", "", True),
    ("https://h.example:443/c/a.png", "https://h.example/c", "", True),
    ("http://h.example/c/a.png", "http://h.example/c", "1", False),  # not loopback: never
    ("http://127.0.0.1:8/c/a.png", "http://127.0.0.1:8/c", "", False),  # loopback without opt-in
    ("http://127.0.0.1:8/c/a.png", "http://127.0.0.1:8/c", "1", True),
    ("http://[::1]:8/a", "http://[::1]:8", "1", True),
    ("https://evil.example/a.png", "https://h.example/c", "", False),  # another host
    ("https://h.example:8443/a", "https://h.example/c", "", False),  # another port
    ("http://h.example/a.png", "https://h.example/c", "", False),  # downgraded scheme
])
def test_may_send(monkeypatch, url: str, base: str, allow: str, sent: bool) -> None:
    from gt_gen.store.credentials import may_send

    monkeypatch.setenv("GT_GEN_ALLOW_HTTP_TOKEN_LOOPBACK", allow)
    assert may_send(url, base) is sent


def test_git_credentials_only_over_https(monkeypatch) -> None:
    from gt_gen.store.credentials import git_env, split_userinfo

    monkeypatch.setenv("CI_DATA_TOKEN", TOKEN)
    monkeypatch.delenv("GT_GEN_ALLOW_HTTP_TOKEN_LOOPBACK", raising=False)
    assert git_env("http://git.example/ci-data.git", None, None) == {}
    assert git_env("/local/path", None, None) == {}
    assert "GIT_CONFIG_VALUE_0" in git_env("https://git.example/ci-data.git", None, None)
    clean, user, pw = split_userinfo("https://u:p@ss:x@git.example/ci-data.git")
    assert (clean, user, pw) == ("https://git.example/ci-data.git", "u", "p@ss:x")


def test_git_source_refuses_credentials_over_http(tmp_path, monkeypatch) -> None:
    from gt_gen.store.git_source import GitSource

    monkeypatch.delenv("GT_GEN_ALLOW_HTTP_TOKEN_LOOPBACK", raising=False)
    with pytest.raises(UsageError, match="https") as exc:
        GitSource("http://user:s3cr3t@git.example/ci-data.git", "main", tmp_path)
    assert "s3cr3t" not in exc.value.one_line()
