"""Downloading one input image: every network fault is bounded and ends in one clear error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gt_gen.assets.download import _redirect_allowed, fetch
from gt_gen.assets.image_check import check_image
from gt_gen.errors import ConfigError, InputFileError, MissingFileError, NetworkError
from tests.assets.image_server import ImageServer, image_bytes

PNG = image_bytes("PNG")


@pytest.fixture
def srv() -> Iterator[ImageServer]:
    s = ImageServer()
    yield s
    s.close()


def _fetch(url: str, **kw: object):
    kw.setdefault("timeout", 2.0)
    kw.setdefault("attempts", 3)
    return fetch(url, sleep=lambda s: None, **kw)  # type: ignore[arg-type]


def test_ok_and_retries_after_503(srv: ImageServer) -> None:
    got = _fetch(srv.add("/a.png", PNG))
    assert got.data == PNG and got.served_from == srv.url("/a.png")
    url = srv.add("/flaky.png", PNG, ("status", 503), ("status", 502), ("ok",))
    assert _fetch(url).data == PNG and srv.routes["/flaky.png"].hits == 3
    assert all(auth == "" for _, _, auth in srv.log)  # never any Authorization


@pytest.mark.parametrize("steps, cls, message", [
    ([("status", 404)], MissingFileError, "not found \\(HTTP 404\\)"),
    ([("status", 410)], MissingFileError, "HTTP 410"),
    ([("status", 403)], NetworkError, "HTTP 403 \\(refused"),
    ([("status", 503)], NetworkError, "no answer after 3 attempt\\(s\\) \\(HTTP 503\\)"),
    ([("reset",)], NetworkError, "no answer after 3 attempt\\(s\\) \\(ConnectionError\\)"),
    ([("truncate",)], NetworkError, "body ended early \\(truncated or reset\\)"),
    ([("huge", 10**12)], InputFileError, "1000000000000 bytes, more than"),
    ([("chunked", 300_000)], InputFileError, "more than the 100000 bytes"),
])
def test_faults_end_in_one_error(srv: ImageServer, steps: list, cls: type, message: str) -> None:
    url = srv.add("/x.png", PNG, *steps)
    with pytest.raises(cls, match=message):
        _fetch(url, max_bytes=100_000)
    definitive = cls is not NetworkError or "refused" in message
    assert srv.routes["/x.png"].hits == (1 if definitive else 3)


def test_timeout_is_bounded_and_retried(srv: ImageServer) -> None:
    url = srv.add("/slow.png", PNG, ("sleep", 5))
    with pytest.raises(NetworkError, match="no answer after 2 attempt\\(s\\) \\(ReadTimeout\\)"):
        _fetch(url, timeout=0.3, attempts=2)
    assert srv.routes["/slow.png"].hits == 2


def test_redirects(srv: ImageServer) -> None:
    srv.add("/real.png", PNG)
    same = srv.add("/moved.png", b"", ("redirect", "/real.png"))
    got = _fetch(same)
    assert got.data == PNG and got.served_from == srv.url("/real.png")
    other = srv.add("/away.png", b"", ("redirect", srv.url("/real.png", host="localhost")))
    with pytest.raises(NetworkError, match="redirected to another host .*--allow-redirect-host "
                                           "localhost"):
        _fetch(other)
    assert _fetch(other, allow_redirect_hosts=["localhost"]).data == PNG
    loop = srv.add("/loop.png", b"", ("redirect", "/loop.png"))
    with pytest.raises(NetworkError, match="more than 5 redirects"):
        _fetch(loop)


@pytest.mark.parametrize("src, dst, ok", [
    ("https://github.com/o/r/releases/download/t/x.jpg",
     "https://objects.githubusercontent.com/x?sig=1", True),
    ("https://github.com/o/r/releases/download/t/x.jpg",
     "https://release-assets.githubusercontent.com/x", True),
    ("https://github.com/x", "http://objects.githubusercontent.com/x", False),  # downgrade
    ("https://github.com/x", "https://evil.example/githubusercontent.com", False),
    ("https://github.com/x", "https://githubusercontent.com.evil.example/x", False),
    ("https://raw.githubusercontent.com/x", "https://objects.githubusercontent.com/x", False),
    ("https://h.example/a", "https://h.example/b", True),
    ("https://h.example/a", "https://h.example:8443/b", False),
    ("https://h.example/a", "http://h.example/b", False),
])
def test_redirect_policy(src: str, dst: str, ok: bool) -> None:
    assert _redirect_allowed(src, dst, ()) is ok


def test_credentials_and_plain_http_are_refused_before_any_request(srv: ImageServer) -> None:
    srv.add("/a.png", PNG)
    secret = "s3cr3t-pa55"
    with pytest.raises(ConfigError, match="carries credentials") as err:
        _fetch(f"http://alice:{secret}@127.0.0.1:{srv.port}/a.png")
    assert secret not in str(err.value) and "alice" not in str(err.value)
    with pytest.raises(NetworkError, match="plain http is refused"):
        _fetch("http://images.example/a.png")
    assert srv.log == []


@pytest.mark.parametrize("data, message", [
    (b"<html>rate limited</html>", "not an image"),
    (b"", "not an image"),
    (image_bytes("JPEG")[: len(image_bytes("JPEG")) // 2], "does not decode"),
    (image_bytes("GIF"), "a GIF image"),
    (image_bytes("PNG", size=(8, 8)), "8x8 pixels is not a sane input image"),
])
def test_bytes_must_be_a_sane_image(data: bytes, message: str) -> None:
    with pytest.raises(InputFileError, match=message):
        check_image(data, what="https://h/x")


def test_sane_images_pass() -> None:
    for fmt in ("PNG", "JPEG", "WEBP"):
        info = check_image(image_bytes(fmt, size=(40, 30)), what="x")
        assert (info.format, info.width, info.height) == (fmt, 40, 30)
