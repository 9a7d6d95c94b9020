"""When a whole-video decode may stand in for sglang's OpenCV key-frame seek, and doing it.

Why: with ``--frames all`` every frame of the candidate is decoded anyway, and OpenCV's seek
to the mid and last frames decodes most of the video again (up to ~1.5 videos: each seek
restarts at the sync point before it). Reusing the whole decode saves that, but only where
it gives *exactly* the frames OpenCV's seek gives, since those are what sglang gates on.

What OpenCV does (``CvCapture_FFMPEG::seek`` in opencv's ``cap_ffmpeg_impl.hpp``, read for
this; stable across 4.x): clamp the index k to the frame count, seek backwards to the sync
point at or before the time of frame k - 16, flush the decoder, decode one frame and number
it from its timestamp relative to the first frame's; if that number is not past k - 1,
decode forward, counting, to frame k. The count it clamps to and picks the key indices from
(``CAP_PROP_FRAME_COUNT``) is the container's declared frame count.

So when the stream's *only* sync point is its first packet, every seek lands on frame 0 of a
flushed decoder, numbers it 0, and decodes forward: the frame it returns for index k is the
k-th frame of a sequential decode from the start, which the whole-video decode is. With
several sync points (a long video, a scene cut, a short GOP) the seek lands on one of them,
and the frame it returns is still the sequential decode's k-th frame when (a) a decoder
started at *any* sync point decodes the same frames as one that ran from the start, (b) the
first frame it outputs there is that sync point's picture, and (c) OpenCV numbers that frame
by its index: (a) holds when every sync point is an IDR picture (:mod:`gt_gen.nal`), (b) when
no packet crosses a sync point (nothing decoded before it is shown after it, nothing decoded
after it is shown before it: no open-GOP leading pictures), and (c) when the timestamps are
evenly spaced from the stream's start time at exactly the stream's frame rates (OpenCV
numbers a frame round(fps * (pts - start) * time_base)). Wherever OpenCV's seek lands, and
however often it backs off, it then counts forward through the same frames.

The conditions, all checked (any that fails: OpenCV seeks as before, and results.json says why):

1. the container declares a frame count, and the decode gave exactly that many frames;
2. the first packet is a sync point, and it is the only one, or every sync point satisfies
   (a)-(c) above (H.264/HEVC in MP4/MOV, whose NAL units are length-prefixed; any other
   stream with several sync points is refused; a file without a sync-sample table marks
   every packet, so only an all-IDR stream passes);
3. every frame has a timestamp, increasing (the numbering above reads them);
4. OpenCV itself opens the file, reports the same frame count, and its frame 0 equals the
   whole decode's frame 0 pixel for pixel: the same decoder and colour conversion on this
   very file (one frame's decode, not two seeks through the video).

A corpus of encodings (B-frames, several GOPs, no sync table, 10-bit, odd sizes, VFR, 1-3
frames, other containers) checks the rule against OpenCV in ``tests/test_keyframe_reuse.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import accumulate
from pathlib import Path

import numpy as np

from gt_gen.video_decode import StreamInfo


def why_not_reusable(info: StreamInfo, *, several_gops: bool = True) -> str | None:
    """Which of conditions 1-3 a decoded stream fails (``None``: all hold). ``several_gops``:
    whether a stream with several sync points may pass (condition 2's second half); the
    packet-only probe of a key-frame read, which has no frame timestamps, says no."""
    if info.declared <= 0:
        return "the container declares no frame count"
    if info.decoded != info.declared:
        return f"decoded {info.decoded} frames but the container declares {info.declared}"
    if not info.first_packet_sync:
        return (f"{info.sync_packets} sync points, " if info.sync_packets != 1 else "") + \
            "the first packet is not a sync point (OpenCV's seek may start elsewhere)"
    if not info.pts_increasing:
        return "frame timestamps missing or not increasing"
    if info.sync_packets == 1:
        return None
    if not several_gops:
        return f"{info.sync_packets} sync points (OpenCV's seek may start elsewhere)"
    return _why_not_every_sync_point(info)


def _why_not_every_sync_point(info: StreamInfo) -> str | None:
    """Conditions (a)-(c) of the module docstring for a stream with several sync points."""
    n = info.sync_packets
    head = f"{n} sync points"
    if info.codec not in ("h264", "hevc") or not info.nal_size:
        return (f"{head} in a {info.codec or 'unknown'} stream whose pictures are not read "
                "(only length-prefixed H.264/HEVC; OpenCV's seek may start elsewhere)")
    if info.sync_idr != n:
        return (f"{head}, {n - info.sync_idr} of them not an IDR picture (an open GOP: OpenCV's "
                "seek there may decode other frames)")
    if any(p is None for p in info.packet_pts) or len(info.packet_pts) != info.packets:
        return f"{head}, and a packet without a timestamp"
    pts = [int(p) for p in info.packet_pts]  # type: ignore[arg-type]
    shown_before = list(accumulate(pts, max))  # [i]: the latest timestamp of packets [0, i]
    shown_after = list(accumulate(reversed(pts), min))[::-1]  # [i]: the earliest of [i, n)
    for s in info.sync_at:
        if (s and shown_before[s - 1] >= pts[s]) or shown_after[s] < pts[s]:
            return (f"{head}, and a frame decoded on one side of the sync point at packet {s} "
                    "is shown on the other (leading pictures: OpenCV's seek there differs)")
    return _why_not_evenly_timed(info, head)


def _why_not_evenly_timed(info: StreamInfo, head: str) -> str | None:
    """Condition (c): frame i at start + i * d exactly, d one frame at every rate the stream
    states (OpenCV may take either: the average or the base rate)."""
    if len(info.frame_pts) != info.decoded or None in info.frame_pts or info.time_base is None:
        return f"{head}, and frame timestamps or the time base missing"
    f = [int(p) for p in info.frame_pts]  # type: ignore[arg-type]
    d = f[1] - f[0] if len(f) > 1 else 0
    uneven = d <= 0 or info.start_time != f[0] or any(p != f[0] + i * d for i, p in enumerate(f))
    if uneven:
        return (f"{head}, and frame timestamps not evenly spaced from the stream's start "
                "(OpenCV numbers a seek's frames by timestamp)")
    if not info.rates or any(r is None or r * d * info.time_base != 1 for r in info.rates):
        return (f"{head}, and the stream's frame rates ({', '.join(str(r) for r in info.rates)}) "
                f"are not one frame per {d} x {info.time_base} s (OpenCV numbers frames by them)")
    return None


def seeks_are_sequential(path: Path, total: int) -> bool:
    """The same rule before any decoding, for a key-frame compare that reads with OpenCV: the
    packets alone (a PyAV demux, a few milliseconds for a 121-frame 1536x1024 mp4) stand in
    for the decode, one frame per packet, and ``total`` (OpenCV's count) must be the declared
    count. Anything PyAV cannot read: False, and OpenCV seeks as sglang does."""
    try:
        import av

        info = StreamInfo()
        with av.open(str(path)) as container:
            if not container.streams.video:
                return False
            stream = container.streams.video[0]
            info.open_stream(stream, read_nal=False)  # it accepts a single sync point only
            stamps: list[int | None] = []
            for packet in container.demux(stream):
                info.count_packet(packet)
                if packet.size:
                    stamps.append(packet.pts)
    except Exception:  # noqa: BLE001
        return False
    info.decoded = info.packets
    # Packets come in decode order; distinct timestamps are increasing in output order.
    info.pts_increasing = None not in stamps and len(set(stamps)) == len(stamps)
    return info.declared == total and why_not_reusable(info, several_gops=False) is None


def key_frames_from_decode(path: Path, keys: tuple[str, ...], at: Mapping[int, np.ndarray],
                           info: StreamInfo, first: dict[str, np.ndarray] | None = None
                           ) -> tuple[dict[str, np.ndarray] | None, str]:
    """The key frames of the candidate mp4 ``path`` taken from its whole decode (``at``: frames
    by index, holding at least sglang's key indices by the declared count) when they are
    provably OpenCV's, as a :class:`gt_gen.frames.FrameSet` like
    :func:`gt_gen.frames.read_key_frames` returns; else ``(None, why)``. ``first``: OpenCV's
    frame 0 of ``path`` already read (``read_key_frames(path, ("first",), how="seek")``),
    else it is read here; an OpenCV error on the file is raised as the key-frame path
    raises it."""
    from gt_gen import frames as fr

    why = why_not_reusable(info)
    if why is not None:
        return None, why
    if first is None:
        first = fr.read_key_frames(path, ("first",), how="seek", threads=1)
    if getattr(first, "total", None) != info.declared:
        return None, (f"OpenCV counts {getattr(first, 'total', None)} frames, the container "
                      f"declares {info.declared}")
    if 0 not in at or not np.array_equal(first["first"], at[0]):
        return None, "OpenCV's frame 0 differs from the whole decode's"
    indices = fr.key_frame_indices(info.declared, keys)
    if len(set(indices.values())) < len(indices):
        return None, ("a key index repeats (a 1- or 2-frame video): sglang seeks to it again, "
                      "which OpenCV may refuse")
    if any(i not in at for i in indices.values()):
        return None, "a key frame was not kept while decoding"
    frames = {k: at[i] for k, i in indices.items()}
    return (fr.FrameSet(frames, sources={k: str(path) for k in indices}, indices=indices,
                        total=info.declared),
            "the whole-video decode: " + ("one sync point" if info.sync_packets == 1 else
                                          f"{info.sync_packets} IDR sync points, evenly timed")
            + ", OpenCV's frame count and frame 0 match")
