"""The whole-video decode stands in for OpenCV's key-frame seek only where it gives exactly
OpenCV's frames: the rule of :mod:`gt_gen.keyframe_reuse`, checked against OpenCV itself on
a corpus of encodings (every one reused must equal OpenCV's seek; the ones the rule refuses
are named, so the corpus really holds both kinds)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from gt_gen import frames as fr
from gt_gen.errors import InputFileError
from gt_gen.keyframe_reuse import key_frames_from_decode, seeks_are_sequential, why_not_reusable
from gt_gen.video_decode import StreamInfo, bgr_frames, to_rgb
from tests.media import VideoSpec, encode, moving_frames, video_corpus


def encode_timed(path: Path, n: int, pts: list[int], tb: Fraction, codec: str = "libx264",
                 options: dict[str, str] | None = None, h: int = 32, w: int = 48) -> Path:
    """Frames with chosen timestamps (VFR, a late start) in any container PyAV writes."""
    import av

    frames = moving_frames(n, h, w, seed=n)
    with av.open(str(path), mode="w") as c:
        s = c.add_stream(codec, rate=24)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p" if codec != "mjpeg" else "yuvj420p"
        s.time_base = tb
        s.codec_context.time_base = tb
        s.options = dict(options or {})
        for f, p in zip(frames, pts):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts, vf.time_base = p, tb
            for pkt in s.encode(vf):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def seek_corpus(root: Path) -> dict[str, Path]:
    """The decode corpus plus what matters to a seek: long single GOPs with B-frames (sglang's
    outputs), many GOPs, open GOPs, VFR, a late first timestamp, intra-only codecs, other
    containers, 1-3 frames."""
    out = {s.name: encode(root / f"{s.name}.mp4", s) for s in video_corpus()}
    for spec in (VideoSpec("single_gop_bframes", n=61, options={"crf": "23", "bf": "3"}),
                 VideoSpec("single_gop_121", n=121, h=24, w=32, options={"crf": "23"}),
                 VideoSpec("three_frames", n=3),
                 VideoSpec("many_gops", n=50, options={"crf": "23", "g": "6", "bf": "2"}),
                 VideoSpec("open_gop", n=50, options={"crf": "23", "x264-params": "keyint=10:open-gop=1"}),
                 VideoSpec("intra_only", n=20, options={"crf": "23", "g": "1"}),
                 VideoSpec("mpeg4_gops", n=30, codec="mpeg4", options={"qscale": "4", "g": "7", "bf": "1"})):
        out[spec.name] = encode(root / f"{spec.name}.mp4", spec)
    ms = Fraction(1, 1000)
    vfr = [0, 40, 50, 120, 130, 131, 200, 260, 262, 400, 410, 500, 520, 700, 701, 760, 800, 900, 950, 1000,
           1010, 1100, 1150, 1300, 1301]
    out["vfr"] = encode_timed(root / "vfr.mp4", len(vfr), vfr, ms, options={"crf": "23", "bf": "2"})
    out["late_start"] = encode_timed(root / "late_start.mp4", 25, [5000 + 40 * i for i in range(25)], ms,
                                     options={"crf": "23"})
    out["mkv"] = encode_timed(root / "clip.mkv", 25, [40 * i for i in range(25)], ms, options={"crf": "23"})
    out["mjpeg"] = encode_timed(root / "mjpeg.avi", 12, list(range(12)), Fraction(1, 24), codec="mjpeg")
    out.update(gop_corpus(root))
    return out


def gop_corpus(root: Path) -> dict[str, Path]:
    """Several sync points: GOP lengths around OpenCV's 16-frame back-off and the key indices
    of 61 frames (0, 30, 60 fall on, just after and just before sync points), B-pyramids with
    several references, a scene cut (what x264 does to a 121-frame video with a cut: a second
    IDR where it chooses), HEVC closed and open GOPs, and timing that OpenCV would number
    differently from the frame order (VFR, a start time after the first frame)."""
    out: dict[str, Path] = {}
    for g in (5, 14, 15, 16, 17, 29, 30, 31):
        opts = {"crf": "23", "x264-params": f"keyint={g}:min-keyint={g}:scenecut=0:bframes=3:b-pyramid=normal:ref=4"}
        out[f"gop{g}_pyramid"] = encode(root / f"gop{g}.mp4", VideoSpec(f"gop{g}_pyramid", n=61, options=opts, seed=g))
    cut = np.concatenate([moving_frames(50, 32, 48, seed=1), 255 - moving_frames(71, 32, 48, seed=2)])
    out["scene_cut"] = encode(root / "scene_cut.mp4", VideoSpec("scene_cut", n=121, options={"crf": "23"}), cut)
    out["no_bframes_gops"] = encode(root / "no_b.mp4", VideoSpec("no_bframes_gops", n=40, options={
        "crf": "23", "g": "7", "bf": "0"}, seed=21))
    x265 = "log-level=error:keyint=10:min-keyint=10:scenecut=0:bframes=3"
    out["hevc_closed_gops"] = encode(root / "hevc_closed.mp4", VideoSpec("hevc_closed_gops", n=41, h=64, w=96, codec="libx265",
                                     options={"crf": "28", "x265-params": x265 + ":open-gop=0"}, seed=22))
    out["hevc_open_gops"] = encode(root / "hevc_open.mp4", VideoSpec("hevc_open_gops", n=41, h=64, w=96, codec="libx265",
                                   options={"crf": "28", "x265-params": x265 + ":open-gop=1"}, seed=23))
    ms = Fraction(1, 1000)
    vfr = [0, 40, 50, 120, 130, 131, 200, 260, 262, 400, 410, 500, 520, 700, 701, 760, 800, 900, 950, 1000,
           1010, 1100, 1150, 1300, 1301, 1400, 1440, 1441, 1600, 1700, 1701, 1800, 1900]
    out["vfr_gops"] = encode_timed(root / "vfr_gops.mp4", len(vfr), vfr, ms, options={"crf": "23", "g": "6", "bf": "2"})
    out["late_start_gops"] = encode_timed(root / "late_gops.mp4", 40, [5000 + 40 * i for i in range(40)], ms,
                                          options={"crf": "23", "g": "6", "bf": "2"})
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return seek_corpus(tmp_path_factory.mktemp("seek-corpus"))


def whole(path: Path) -> tuple[dict[int, np.ndarray], StreamInfo]:
    info = StreamInfo()
    frames = {i: to_rgb(b) for i, b in enumerate(bgr_frames(path, info=info))}
    return frames, info


#: Encodings the rule must accept: a long single GOP (what sglang and diffusers write), and
#: several closed (IDR) GOPs, evenly timed.
REUSED = {"h264_420", "h264_444", "three_frames", "single_gop_bframes",
          "single_gop_121", "vfr", "late_start", "odd_444", "bt709_tag", "full_range",
          "many_gops", "intra_only", "bframes_gop", "scene_cut", "no_bframes_gops", "hevc_closed_gops",
          *(f"gop{g}_pyramid" for g in (5, 14, 15, 16, 17, 29, 30, 31))}
#: ... and must refuse, each for its reason.
REFUSED = {"open_gop": "not an IDR picture", "hevc_open_gops": "not an IDR picture",
           "mpeg4_gops": "mpeg4 stream", "mkv": "declares no frame count", "mjpeg": "mjpeg stream",
           "vfr_gops": "not evenly spaced", "late_start_gops": "frame rates",
           # sglang reads a repeated key index again (and fails a 1-frame video): its seeks decide
           "one_frame": "a key index repeats", "two_frames": "a key index repeats"}
#: Several sync points by the reuse rule's own count (the corpus tests what it means to test).
SEVERAL = {"many_gops", "intra_only", "bframes_gop", "scene_cut", "no_bframes_gops", "hevc_closed_gops",
           *(f"gop{g}_pyramid" for g in (5, 14, 15, 16, 17, 29, 30, 31))}


def test_the_corpus_holds_both_kinds(corpus) -> None:
    assert REUSED | set(REFUSED) <= set(corpus)


def test_every_reused_key_frame_is_opencvs_seek(corpus) -> None:
    seen_reused, seen_refused = set(), {}
    for name, path in corpus.items():
        frames, info = whole(path)
        got, why = key_frames_from_decode(path, fr.KEY_FRAMES, frames, info)
        if got is None:
            seen_refused[name] = why
            continue
        seen_reused.add(name)
        assert (info.sync_packets > 1) == (name in SEVERAL), (name, info.sync_packets)
        ref = fr.read_key_frames(path, how="seek")
        assert got.indices == ref.indices and got.total == ref.total, name
        for k in fr.KEY_FRAMES:
            assert np.array_equal(got[k], ref[k]), f"{name}: key frame {k} is not OpenCV's"
    assert REUSED <= seen_reused, {n: seen_refused.get(n) for n in REUSED - seen_reused}
    for name, reason in REFUSED.items():
        assert name in seen_refused and reason in seen_refused[name], (name, seen_refused.get(name))


def seek_each_index(path: Path, n: int) -> list[np.ndarray | None]:
    """OpenCV's seek to every index 0..n-1, each on a fresh capture as sglang opens one (RGB;
    None where the read fails)."""
    import cv2

    out: list[np.ndarray | None] = []
    for k in range(n):
        cap = cv2.VideoCapture(str(path))
        cap.set(cv2.CAP_PROP_POS_FRAMES, k)
        ok, bgr = cap.read()
        cap.release()
        out.append(bgr[..., ::-1] if ok and bgr is not None else None)
    return out


def test_a_reused_stream_with_several_sync_points_is_opencvs_at_every_index(corpus) -> None:
    """The rule's claim for several GOPs is about any index (a case may name other key
    frames), wherever OpenCV's back-off lands: every frame of each such stream, seeked."""
    for name in sorted(SEVERAL):
        frames, info = whole(corpus[name])
        assert key_frames_from_decode(corpus[name], fr.KEY_FRAMES, frames, info)[0] is not None, name
        for k, got in enumerate(seek_each_index(corpus[name], len(frames))):
            assert got is not None and np.array_equal(got, frames[k]), f"{name}: frame {k} is not OpenCV's seek"


def test_the_timing_condition_is_needed() -> None:
    """Negative control: with several GOPs and uneven timestamps OpenCV numbers a seek's frames
    by time, and its frames part from the sequential decode's (the vfr_gops stream, refused).
    Were the condition dropped, the reuse would gate on frames sglang never sees."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        vfr = [0, 40, 50, 120, 130, 131, 200, 260, 262, 400, 410, 500, 520, 700, 701, 760, 800, 900, 950,
               1000, 1010, 1100, 1150, 1300, 1301, 1400, 1440, 1441, 1600, 1700, 1701, 1800, 1900]
        path = encode_timed(Path(d) / "vfr_gops.mp4", len(vfr), vfr, Fraction(1, 1000),
                            options={"crf": "23", "g": "6", "bf": "2"})
        frames, info = whole(path)
        assert info.sync_packets > 1
        seeks = seek_each_index(path, len(frames))
        differ = [k for k, got in enumerate(seeks) if got is None or not np.array_equal(got, frames[k])]
        assert differ, "OpenCV's seek agreed everywhere: this stream no longer shows the hazard"
        got, why = key_frames_from_decode(path, fr.KEY_FRAMES, frames, info)
        assert got is None and "not evenly spaced" in why


def test_a_sync_point_that_is_not_idr_or_is_crossed_is_refused(corpus) -> None:
    """Conditions (a) and (b) alone, on a real stream's record with one fact changed."""
    import copy

    frames, info = whole(corpus["gop16_pyramid"])
    assert key_frames_from_decode(corpus["gop16_pyramid"], fr.KEY_FRAMES, frames, info)[0] is not None
    not_idr = copy.deepcopy(info)
    not_idr.sync_idr -= 1
    assert "not an IDR picture" in (why_not_reusable(not_idr) or "")
    crossed = copy.deepcopy(info)
    s = crossed.sync_at[1]
    crossed.packet_pts[s + 1] = crossed.packet_pts[s] - 1  # decoded after the IDR, shown before it
    assert "shown on the other" in (why_not_reusable(crossed) or "")
    late = copy.deepcopy(info)
    late.packet_pts[s - 1] = late.packet_pts[s] + 10_000  # decoded before it, shown after it
    assert "shown on the other" in (why_not_reusable(late) or "")
    for field, value in (("codec", "vp9"), ("nal_size", 0)):
        other = copy.deepcopy(info)
        setattr(other, field, value)
        assert "whose pictures are not read" in (why_not_reusable(other) or ""), field
    assert "sync points" in (why_not_reusable(info, several_gops=False) or "")


def test_a_seek_that_would_not_start_at_frame_0_is_refused() -> None:
    """The rule, by itself: each condition alone refuses."""
    ok = StreamInfo(declared=25, decoded=25, sync_packets=1, first_packet_sync=True)
    assert why_not_reusable(ok) is None
    for bad, word in ((dict(declared=0, decoded=25), "declares no frame count"),
                      (dict(decoded=24), "decoded 24"),
                      (dict(sync_packets=2), "2 sync points"),
                      (dict(first_packet_sync=False), "first packet is not a sync point"),
                      (dict(pts_increasing=False), "timestamps")):
        info = StreamInfo(**{**ok.__dict__, **bad})
        why = why_not_reusable(info)
        assert why is not None and word in why, (bad, why)


def test_a_frame_0_that_is_not_opencvs_is_refused(corpus) -> None:
    path = corpus["single_gop_bframes"]
    frames, info = whole(path)
    frames[0] = frames[0].copy()
    frames[0][0, 0, 0] ^= 1
    got, why = key_frames_from_decode(path, fr.KEY_FRAMES, frames, info)
    assert got is None and "frame 0 differs" in why


def test_key_frames_read_in_one_pass_are_the_seeks_frames(corpus) -> None:
    """Key-frame compare (no whole decode): where the stream has one sync point, OpenCV reads
    the key frames in one pass instead of seeking three times; the frames are the seek's."""
    one_pass = set()
    for name, path in corpus.items():
        total = fr.video_frame_count(path)
        if not seeks_are_sequential(path, total):
            continue
        one_pass.add(name)
        if name == "one_frame":  # sglang's second read of frame 0 fails, however it is read
            for how in ("seek", "sequential", "auto"):
                with pytest.raises(InputFileError, match="cannot read frame 0 of 1"):
                    fr.read_key_frames(path, how=how)
            continue
        seek = fr.read_key_frames(path, how="seek")
        seq = fr.read_key_frames(path, how="sequential")
        auto = fr.read_key_frames(path)
        for k in fr.KEY_FRAMES:
            assert np.array_equal(seq[k], seek[k]) and np.array_equal(auto[k], seek[k]), (name, k)
        assert seq.indices == seek.indices and seq.total == seek.total
    # Several GOPs: a one-pass read decodes up to the last key frame, OpenCV's seeks only the
    # GOPs before each; the seeks stay (they are sglang's calls, and cheaper there).
    assert REUSED - {"mkv"} - SEVERAL <= one_pass
    repeats = {"one_frame", "two_frames"}  # refused for reuse after a whole decode, not for one pass
    assert not one_pass & (set(REFUSED) - repeats | SEVERAL), one_pass & (set(REFUSED) | SEVERAL)


def test_a_truncated_video_read_in_one_pass_fails_as_the_seek_does(tmp_path: Path) -> None:
    """A file cut short with its index up front (so OpenCV opens it and declares every frame):
    the probe refuses it (fewer packets than frames), and a one-pass read forced on it falls
    back to the seeks, so frames or error are exactly the seek's (OpenCV's seek even returns
    frames past the cut, which a one-pass read alone would not)."""
    import av

    from tests.media import moving_frames

    whole_file = tmp_path / "faststart.mp4"
    with av.open(str(whole_file), "w", options={"movflags": "faststart"}) as c:
        s = c.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt, s.options = 48, 32, "yuv420p", {"crf": "23", "bf": "3"}
        for f in moving_frames(61, 32, 48, seed=3):
            for pkt in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    data = whole_file.read_bytes()
    kinds = set()
    for frac in (0.5, 0.7, 0.9):
        cut = tmp_path / f"cut{frac}.mp4"
        cut.write_bytes(data[: int(len(data) * frac)])
        assert fr.video_frame_count(cut) == 61  # opened, every frame declared
        assert not seeks_are_sequential(cut, 61)
        outcomes = []
        for how in ("seek", "sequential", "auto"):
            try:
                got = fr.read_key_frames(cut, how=how)
                outcomes.append(("ok", [got[k].tobytes() for k in fr.KEY_FRAMES]))
            except Exception as exc:  # noqa: BLE001 - the error itself is what is compared
                outcomes.append((type(exc).__name__, str(exc)))
        assert outcomes[0] == outcomes[1] == outcomes[2], frac
        kinds.add(outcomes[0][0])
    assert kinds == {"ok", "InputFileError"}  # both kinds of cut file were exercised
