"""The whole-video decoder gives OpenCV's pixels (sglang's key-frame path) on every input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gt_gen import frames as fr
from gt_gen.errors import InputFileError, MissingFileError
from gt_gen.video_decode import decode_all, tag_name
from tests.conftest import write_mp4
from tests.media import VideoSpec, encode, video_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("decode-corpus")
    return {s.name: encode(root / f"{s.name}.mp4", s) for s in video_corpus()}


def test_corpus_has_the_hard_cases(corpus) -> None:
    assert {"bt709_tag", "odd_444", "one_frame", "bframes_gop", "h264_444"} <= set(corpus)


@pytest.mark.parametrize("name", [s.name for s in video_corpus()])
def test_every_frame_equals_opencv(corpus, name: str) -> None:
    """Sequential OpenCV decoding and OpenCV's seeks at sglang's key indices: the same pixels,
    for 8/10-bit, 4:2:0/4:2:2/4:4:4, colour tags, odd sizes, 1 frame and B-frames."""
    path = corpus[name]
    got = decode_all(path)
    seq = fr.read_all_frames(path)
    assert len(got.frames) == len(seq)
    for i, (a, b) in enumerate(zip(got.frames, seq)):
        assert np.array_equal(a, b), f"{name} frame {i}: max diff {np.abs(a.astype(int) - b).max()}"
    if len(seq) > 1:  # a 1-frame video's key frames fail as in sglang (tests/test_frames.py)
        keys = fr.read_key_frames(path)
        for key, idx in keys.indices.items():
            assert np.array_equal(got.frames[idx], keys[key])
    assert np.array_equal(decode_all(path.read_bytes(), where="x.mp4").frames[-1], seq[-1])


@pytest.mark.parametrize("name", [s.name for s in video_corpus()])
def test_one_thread_opencv_probe_reads_sglangs_frames(corpus, name: str, monkeypatch) -> None:
    """The frame-0 probe of a whole-video compare opens OpenCV with one FFmpeg thread
    (compare.read_first_frame): frame 0, the frame count and the seeks at sglang's key indices
    are OpenCV's default reads, for every kind of video in the corpus; and a capture that
    refuses the thread count is opened as sglang opens it, with the same frames."""
    import cv2

    from gt_gen.compare import read_first_frame

    path = corpus[name]
    # A 1-frame video: sglang's second read of frame 0 fails, with either thread count.
    keys = fr.KEY_FRAMES if fr.video_frame_count(path) > 1 else ("first",)
    if keys != fr.KEY_FRAMES:
        for threads in (None, 1):
            with pytest.raises(InputFileError, match="cannot read frame 0 of 1"):
                fr.read_key_frames(path, how="seek", threads=threads)
    want = fr.read_key_frames(path, keys, how="seek")
    got = fr.read_key_frames(path, keys, how="seek", threads=1)
    assert got.total == want.total and got.indices == want.indices
    assert all(np.array_equal(got[k], want[k]) for k in want)
    first = read_first_frame(path)
    assert first.total == want.total and np.array_equal(first["first"], want["first"])
    cap, _ = fr._open_video(path, 1)
    try:
        assert cap.get(cv2.CAP_PROP_N_THREADS) == 1
    finally:
        cap.release()
    real, opened = cv2.VideoCapture, []

    def refusing(*args):  # a backend that does not take the parameter: not opened
        opened.append(len(args))
        return real("/nonexistent.mp4") if len(args) > 1 else real(*args)

    monkeypatch.setattr(cv2, "VideoCapture", refusing)
    again = fr.read_key_frames(path, ("first",), how="seek", threads=1)
    assert opened == [3, 1] and np.array_equal(again["first"], want["first"])


def test_auto_reads_pyavs_integer_colourspace(corpus) -> None:
    """PyAV reports the tag as an integer (1 = BT.709): ``auto`` must still see BT.709."""
    tagged = decode_all(corpus["bt709_tag"], "auto")
    assert (tagged.tag, tagged.matrix) == ("bt709", "bt709")
    plain = decode_all(corpus["h264_420"], "auto")
    assert (plain.tag, plain.matrix) == ("unspecified", "bt601")
    assert tag_name(1) == "bt709" and tag_name(5) == tag_name(6) == "bt601"
    assert tag_name(2) == "unspecified" and tag_name(9) == "bt2020"


def test_a_forced_matrix_changes_colours_and_is_recorded(corpus) -> None:
    auto = decode_all(corpus["bt709_tag"], "auto")
    forced = decode_all(corpus["bt709_tag"], "bt601")
    assert forced.matrix == "bt601" and forced.tag == "bt709"
    assert np.abs(auto.frames[0].astype(int) - forced.frames[0]).max() > 10
    assert np.array_equal(decode_all(corpus["bt709_tag"], "bt709").frames[0], auto.frames[0])


def test_bad_videos_name_the_given_file(tmp_path: Path) -> None:
    mp4 = write_mp4(tmp_path / "v.mp4", np.zeros((9, 32, 32, 3), np.uint8))
    data = mp4.read_bytes()
    for blob in (data[: len(data) // 3], b"\x00" * 100, b"not a video"):
        with pytest.raises(InputFileError) as exc:
            decode_all(blob, where="gt/case_1gpu.mp4")
        assert exc.value.one_line().startswith("gt/case_1gpu.mp4:")
    with pytest.raises(InputFileError, match="empty"):
        decode_all(b"", where="gt/case_1gpu.mp4")
    with pytest.raises(MissingFileError):
        decode_all(tmp_path / "absent.mp4")
    with pytest.raises(InputFileError, match="unknown colour matrix"):
        decode_all(mp4, "bt2100")


def test_declared_frame_count(tmp_path: Path) -> None:
    p = encode(tmp_path / "ok.mp4", VideoSpec("ok", n=3))
    assert len(decode_all(p).frames) == 3 and decode_all(p).declared == 3


@pytest.mark.parametrize("name", ["bt709_tag", "odd_444", "bframes_gop", "one_frame", "h264_10bit"])
@pytest.mark.parametrize("chunk", [None, 1, 3, 8])
def test_stream_chunks_are_decode_alls_frames(corpus, name: str, chunk: int | None, monkeypatch) -> None:
    """The pipelined decoder (from a worker thread) gives decode_all's frames, in order: one
    by one in their own buffers, BGR (``chunk`` None, the CPU's way: none is copied, and none
    is overwritten by a later frame, so they are compared only at the end) or in chunk
    buffers, RGB."""
    from gt_gen import video_decode as vd

    monkeypatch.setattr(vd, "CHUNK_FRAMES", chunk or 8)
    want = decode_all(corpus[name])
    alloc = None if chunk is None else (lambda shape: np.empty(shape, np.uint8))
    stream = vd.FrameStream(corpus[name].read_bytes(), where="x.mp4", alloc=alloc).start()
    chunks = [c if chunk is None else c.copy() for c in stream.chunks()]  # a chunk buffer is refilled once read past
    got = [f[..., ::-1] if stream.bgr else f for c in chunks for f in c]
    assert stream.bgr == (chunk is None)
    assert len(got) == len(want.frames) and all(len(c) <= (chunk or 1) for c in chunks)
    assert all(np.array_equal(a, b) for a, b in zip(got, want.frames))
    assert (stream.info.tag, stream.info.matrix, stream.info.declared) == (want.tag, want.matrix, want.declared)


@pytest.mark.parametrize("name", ["bt709_tag", "bframes_gop", "h264_10bit", "odd_444", "one_frame"])
def test_decoder_thread_count_does_not_change_pixels(corpus, name: str) -> None:
    """Two decoders at once get fewer FFmpeg threads each (pair_decode_threads): the frames
    must be the same as with FFmpeg's own count, one thread or several, B-frames included."""
    from gt_gen import video_decode as vd

    want = decode_all(corpus[name]).frames
    for threads in (1, 2, 5):
        got = [f[..., ::-1] for f in vd.bgr_frames(corpus[name], threads=threads)]
        assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want)), threads
    stream = vd.FrameStream(corpus[name], threads=1).start()
    got = [f[..., ::-1] for c in stream.chunks() for f in c]
    assert all(np.array_equal(a, b) for a, b in zip(got, want)) and len(got) == len(want)


def test_a_decoder_that_fails_to_start_is_reported_not_waited_for(monkeypatch) -> None:
    """Whatever the worker raises, even before its first frame (here: calling the decoder),
    reaches the reader as an error: a worker that died unheard would leave compare waiting
    forever (found when a keyword the decoder did not take hung a test)."""
    from gt_gen import video_decode as vd

    def broken(*_a, **_k):
        raise TypeError("unexpected keyword argument 'threads'")

    monkeypatch.setattr(vd, "bgr_frames", broken)
    stream = vd.FrameStream(b"x", where="gt/x.mp4")
    stream.run()  # in this thread: what it queued is read below without waiting on it
    item = stream._q.get(timeout=5)
    assert isinstance(item, vd._Failed) and isinstance(item.exc, TypeError)
    stream._q.put(item)
    with pytest.raises(TypeError, match="threads"):
        list(stream.chunks())


def _counting_frames(n: int, seen: list[int]):
    """A stand-in for bgr_frames: n small distinct BGR frames, counting how many were made."""
    def gen(*_a, **_k):
        for i in range(n):
            seen.append(i)
            yield np.full((6, 8, 3), i, np.uint8) + np.arange(3, dtype=np.uint8)
    return gen


def test_chunk_packer_keeps_order_bounds_memory_and_stops(monkeypatch) -> None:
    """GPU hand-over (chunk buffers): the swaps run on a packer thread, chunk by chunk, yet the
    chunks come in order with every frame's RGB image; while the reader dawdles the decoder
    stays a bounded number of frames ahead; a closed stream's decoder and packer threads end."""
    import threading
    import time

    from gt_gen import video_decode as vd

    monkeypatch.setattr(vd, "CHUNK_FRAMES", 2)
    seen: list[int] = []
    monkeypatch.setattr(vd, "bgr_frames", _counting_frames(60, seen))
    stream = vd.FrameStream(b"x", where="x.mp4", alloc=lambda shape: np.empty(shape, np.uint8), depth=2).start()
    chunks = stream.chunks()
    first = next(chunks).copy()
    time.sleep(0.5)  # the reader holds back: the decoder must wait, not decode all 60
    # the chunk read, 2 queued, the packer's (waiting to queue it) and the one waiting for the
    # packer: 5 chunks of 2 frames, and the generator one frame further at most
    assert len(seen) <= 5 * 2 + 1, len(seen)
    got = [first] + [c.copy() for c in chunks]
    frames = [f for c in got for f in c]
    assert len(frames) == 60 and all(len(c) == 2 for c in got)
    for i, f in enumerate(frames):
        assert np.array_equal(f, (np.full((6, 8, 3), i, np.uint8) + np.arange(3, dtype=np.uint8))[..., ::-1]), i

    seen.clear()
    stream = vd.FrameStream(b"x", where="x.mp4", alloc=lambda shape: np.empty(shape, np.uint8)).start()
    next(stream.chunks())
    stream.close()
    deadline = time.monotonic() + 10
    while any(t.name.startswith(("gt-gen-pack", "gt-gen-decode")) for t in threading.enumerate()):
        assert time.monotonic() < deadline, "decoder or packer thread still running after close"
        time.sleep(0.02)
    assert len(seen) < 60


def test_a_failed_swap_reaches_the_reader_after_the_chunks_before_it(monkeypatch) -> None:
    """A swap that fails on the packer thread is the reader's error, raised after the chunks
    handed in before it and before any chunk after it (none holds a frame never written)."""
    from gt_gen import video_decode as vd

    monkeypatch.setattr(vd, "CHUNK_FRAMES", 2)
    monkeypatch.setattr(vd, "bgr_frames", _counting_frames(9, []))
    real, calls = vd.to_rgb, []

    def flaky(bgr, out=None):
        calls.append(1)
        if len(calls) == 5:
            raise MemoryError("swap failed")
        return real(bgr, out)

    monkeypatch.setattr(vd, "to_rgb", flaky)
    stream = vd.FrameStream(b"x", where="x.mp4", alloc=lambda shape: np.empty(shape, np.uint8)).start()
    got = []
    with pytest.raises(MemoryError, match="swap failed"):
        for c in stream.chunks():
            got.append(c.copy())
    assert len(got) == 2  # frames 0-3, swapped before it; never the chunk that holds frame 4


def test_pair_decode_threads(monkeypatch) -> None:
    """CPU metrics: half the usable CPUs, at least one; GPU metrics: FFmpeg's own count (0).
    GT_GEN_DECODE_THREADS sets both, and a bad value is a usage error that names the variable
    (not a traceback from int())."""
    import os

    from gt_gen import video_decode as vd
    from gt_gen.errors import UsageError

    monkeypatch.delenv("GT_GEN_DECODE_THREADS", raising=False)
    for cpus, want in ((1, 1), (2, 1), (3, 1), (16, 8)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid, n=cpus: set(range(n)))
        assert vd.pair_decode_threads() == want == vd.pair_decode_threads("cpu")
        assert vd.pair_decode_threads("cuda") == vd.pair_decode_threads("cuda:1") == 0
    monkeypatch.setenv("GT_GEN_DECODE_THREADS", " 3 ")
    assert vd.pair_decode_threads() == 3 == vd.pair_decode_threads("cuda")
    for bad in ("0", "-1", "two", "1.5", "65", "9" * 40):
        monkeypatch.setenv("GT_GEN_DECODE_THREADS", bad)
        with pytest.raises(UsageError, match="GT_GEN_DECODE_THREADS must be a whole number"):
            vd.pair_decode_threads()


def test_stream_errors_are_decode_alls(tmp_path: Path) -> None:
    from gt_gen import video_decode as vd

    data = write_mp4(tmp_path / "v.mp4", np.zeros((9, 32, 32, 3), np.uint8)).read_bytes()
    for blob in (data[: len(data) // 2], b"not a video", b""):
        with pytest.raises(InputFileError) as want:
            decode_all(blob, where="gt/case_1gpu.mp4")
        with pytest.raises(InputFileError) as got:
            list(vd.FrameStream(blob, where="gt/case_1gpu.mp4").start().chunks())
        assert got.value.one_line() == want.value.one_line()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.booleans(), st.booleans(), st.sampled_from(["c", "opencv"]),
       st.integers(0, 2**32 - 1))
def test_to_rgb_is_exactly_the_channel_reversal(h: int, w: int, strided: bool, strided_out: bool, swap: str,
                                                seed: int) -> None:
    """The decoder's BGR->RGB swap (the C extension's one-thread shuffle, or OpenCV's where it
    is not built or a buffer is strided) is a pure reordering: from a padded source, into a
    given buffer, and at every width (the shuffle's 5-pixel steps and its tail)."""
    from unittest import mock

    from gt_gen import video_decode as vd

    if swap == "c" and vd._swap_rb() is None:
        pytest.skip("the C extension is not built here")
    big = np.random.default_rng(seed).integers(0, 256, (h, w + 3, 3), dtype=np.uint8)
    bgr = big[:, :w] if strided else np.ascontiguousarray(big[:, :w])
    with mock.patch.object(vd, "_swap_rb", vd._swap_rb if swap == "c" else lambda: None):
        assert np.array_equal(vd.to_rgb(bgr), bgr[..., ::-1])
        out = np.full((2, h, w + (2 if strided_out else 0), 3), 7, np.uint8)
        dst = out[1, :, :w]
        assert vd.to_rgb(bgr, dst) is dst  # written in place (the decoder fills its chunk buffers so)
        assert np.array_equal(out[1, :, :w], bgr[..., ::-1])
        assert (out[0] == 7).all() and (out[1, :, w:] == 7).all()  # nothing beyond the frame
        stack = np.stack([bgr, bgr[::-1]])  # a [2, H, W, 3] batch (the metrics' torch path)
        assert np.array_equal(vd.to_rgb(stack), stack[..., ::-1])


def test_swap_rb_checks_its_buffers() -> None:
    """The C swap refuses what it cannot do right (one-line errors, nothing written)."""
    from gt_gen.video_decode import _swap_rb

    swap = _swap_rb()
    if swap is None:
        pytest.skip("the C extension is not built here")
    a = np.arange(12, dtype=np.uint8)
    with pytest.raises(ValueError, match="one size"):
        swap(a, np.empty(9, np.uint8))
    with pytest.raises(ValueError, match="multiple of 3"):
        swap(a[:10], np.empty(10, np.uint8))
    with pytest.raises(ValueError, match="overlap"):
        swap(a[:9], a[3:12])
    swap(a, a)  # in place is allowed
    assert a.tolist() == [2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9]


@settings(max_examples=30, deadline=None)
@given(st.integers(7, 40), st.integers(7, 40), st.integers(0, 2**32 - 1))
def test_which_metrics_ignore_channel_order(h: int, w: int, seed: int) -> None:
    """Why the decoder still converts BGR to RGB: PSNR (an exact integer sum) is bit-identical
    in either channel order, but SSIM (a mean over channels) and MAD (numpy's pairwise float32
    sum, whose 128-value blocks split pixels) only agree to rounding, and gt-gen's numbers must
    be sglang's bit for bit, so they are computed in sglang's RGB order."""
    from gt_gen.metrics import compute_pair_metrics

    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 30, a.shape), 0, 255).astype(np.uint8)
    rgb = compute_pair_metrics([a], [b], backend="fast")[0]
    bgr = compute_pair_metrics([a[..., ::-1].copy()], [b[..., ::-1].copy()], backend="fast")[0]
    assert bgr["psnr"] == rgb["psnr"]
    assert abs(bgr["ssim"] - rgb["ssim"]) <= 1e-12 and abs(bgr["mean_abs_diff"] - rgb["mean_abs_diff"]) <= 1e-5
