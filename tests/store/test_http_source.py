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
    assert src.requests_made == 0
    assert sum(srv.script.requests.values()) == 3  # HEAD a, HEAD absent, GET a: first run only


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
