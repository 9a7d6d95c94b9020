"""Whole-video decoding with PyAV, giving the pixels OpenCV gives (sglang's key-frame path).

Why these settings: sglang reads key frames with OpenCV, whose FFmpeg backend converts each
frame to BGR24 with libswscale's bicubic scaler and the *frame's own* colour matrix tag
(BT.709 when tagged so, BT.601 when untagged). PyAV's default conversion (RGB24, bilinear)
differs from that on 10-bit video by up to ~48 levels, and a BT.601 override differs on
BT.709-tagged video by ~36. Converting to BGR24 with the bicubic scaler and the frame's tag
gave OpenCV's pixels exactly on every input we tried (8/10-bit, 4:2:0/4:2:2/4:4:4, odd
sizes, BT.709/BT.601/BT.2020 tags, full and limited range, B-frames, VFR); the per-frame
curves are then the key-frame metrics at the key indices, which compare checks per case.

``matrix``: ``auto`` (default) follows the frame's tag as OpenCV does; ``bt601`` / ``bt709``
force one matrix on both sides (then the key indices may differ from the key-frame verdict,
and results.json says so).
"""

from __future__ import annotations

import functools
import io
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from gt_gen.errors import InputFileError, MissingFileError

MATRICES = ("auto", "bt601", "bt709")
_AV_NAMES = {"bt601": "ITU601", "bt709": "ITU709"}
#: FFmpeg's AVColorSpace values (PyAV >= 14 reports them as integers) -> the matrix used.
_TAGS = {0: "rgb", 1: "bt709", 2: "unspecified", 4: "fcc", 5: "bt601", 6: "bt601",
         7: "smpte240m", 8: "ycgco", 9: "bt2020", 10: "bt2020"}


@dataclass
class DecodedVideo:
    """Every frame as RGB uint8, with what decided the colours.

    ``tag``: the stream's colour-space tag (``bt709``, ``unspecified``, ...); ``matrix``:
    the matrix actually used (``auto`` follows the tag; untagged is BT.601, as libswscale);
    ``declared``: the frame count the container declares (0: not declared)."""

    frames: list[np.ndarray]
    tag: str
    matrix: str
    declared: int
    #: The whole of what the decode learnt (sync points, timestamps), for the key-frame reuse.
    stream: StreamInfo | None = None


def describe(matrix: str) -> dict[str, str]:
    import av

    return {"name": "pyav", "version": av.__version__,
            "libavcodec": ".".join(map(str, av.library_versions.get("libavcodec", ()))),
            "colour_matrix": matrix, "conversion": "bgr24, bicubic (as OpenCV) -> rgb"}


def tag_name(colorspace: object) -> str:
    """A stream's colour-space tag by name, from PyAV's integer (or an older enum/string)."""
    if isinstance(colorspace, int):
        return _TAGS.get(colorspace, f"colorspace {colorspace}")
    text = str(getattr(colorspace, "name", colorspace) or "").lower()
    for key in ("709", "2020", "240"):
        if key in text:
            return {"709": "bt709", "2020": "bt2020", "240": "smpte240m"}[key]
    return "bt601" if ("601" in text or "470" in text or "170" in text) else "unspecified"


def matrix_of_tag(tag: str) -> str:
    """The matrix libswscale applies for a stream tag (untagged: BT.601)."""
    return {"unspecified": "bt601", "rgb": "bt601"}.get(tag, tag)


def _source(video: str | Path | bytes, matrix: str, where: str | Path | None) -> tuple[object, str]:
    """What PyAV opens for ``video`` and the name errors use, after the checks that need no
    decoding (unknown matrix, empty or absent file)."""
    if matrix not in MATRICES:
        raise InputFileError(f"unknown colour matrix {matrix!r}; use one of {list(MATRICES)}")
    name = str(where if where is not None else video if not isinstance(video, bytes) else "video")
    if isinstance(video, bytes):
        if not video:
            raise InputFileError("video file is empty; regenerate it", path=name)
        return io.BytesIO(video), name
    if not Path(video).is_file():
        raise MissingFileError("video not found", path=name)
    return str(video), name


@dataclass
class StreamInfo:
    """What decided a stream's colours, known once it is open (see :class:`DecodedVideo`)."""

    tag: str = "unspecified"
    matrix: str = "bt601"
    declared: int = 0
    #: Frames decoded so far (all of them once the generator is exhausted).
    decoded: int = 0
    #: Packets the container marks as sync points (where a seek can land), and whether the
    #: first packet is one: with a single sync point every OpenCV seek decodes from frame 0.
    sync_packets: int = 0
    first_packet_sync: bool = False
    #: Every frame had a presentation timestamp, increasing in output order.
    pts_increasing: bool = True
    #: Packets with data seen so far.
    packets: int = 0
    #: What a seek to a later sync point depends on (:mod:`gt_gen.keyframe_reuse`): the codec,
    #: the NAL length size of its packets (0: not length-prefixed), how many sync packets are
    #: IDR pictures (:mod:`gt_gen.nal`), each data packet's timestamp in decode order and the
    #: positions of the sync ones, every frame's timestamp in output order, and the stream's
    #: time base, start time and frame rates (OpenCV numbers a seek's frames from these).
    codec: str = ""
    nal_size: int = 0
    sync_idr: int = 0
    packet_pts: list[int | None] = field(default_factory=list)
    sync_at: list[int] = field(default_factory=list)
    frame_pts: list[int | None] = field(default_factory=list)
    time_base: Fraction | None = None
    start_time: int | None = None
    rates: tuple[Fraction | None, ...] = ()

    def open_stream(self, stream: object, *, read_nal: bool = True) -> None:
        """Note what the stream header says (before any packet). ``read_nal=False``: sync
        packets are counted but not parsed (a probe that accepts one sync point only)."""
        from gt_gen.nal import length_size

        cc = getattr(stream, "codec_context", None)
        self.codec = str(getattr(cc, "name", "") or "")
        try:
            extradata = bytes(getattr(cc, "extradata", None) or b"")
        except (TypeError, ValueError):
            extradata = b""
        self.nal_size = length_size(self.codec, extradata) if read_nal else 0
        self.declared = int(getattr(stream, "frames", 0) or 0)
        tb = getattr(stream, "time_base", None)
        self.time_base = Fraction(tb) if tb else None
        self.start_time = getattr(stream, "start_time", None)
        self.rates = tuple(Fraction(r) if r else None for r in
                           (getattr(stream, "average_rate", None), getattr(stream, "base_rate", None)))

    def count_packet(self, packet: object) -> None:
        """Note one demuxed packet (its sync flag, timestamp and, for a sync packet, whether it
        is an IDR picture); flush packets (no data) do not count."""
        if getattr(packet, "size", 0):
            if getattr(packet, "is_keyframe", False):
                self.sync_packets += 1
                self.first_packet_sync |= self.packets == 0
                self.sync_at.append(self.packets)
                if self.nal_size:
                    from gt_gen.nal import is_idr

                    self.sync_idr += is_idr(self.codec, memoryview(packet), self.nal_size)  # type: ignore[arg-type]
            self.packet_pts.append(getattr(packet, "pts", None))
            self.packets += 1


@functools.cache
def _reformat_takes_threads() -> bool:
    """Whether this PyAV's ``VideoFrame.reformat`` takes ``threads``: PyAV 17 added it with
    its multithreaded scaler (``sws_scale_frame``); older releases scale on the calling thread
    and have no such argument."""
    import av

    major = str(av.__version__).split(".", 1)[0]
    return major.isdigit() and int(major) >= 17


def bgr_frames(video: str | Path | bytes, matrix: str = "auto", *, where: str | Path | None = None,
               info: StreamInfo | None = None, threads: int = 0) -> Generator[np.ndarray, None, None]:
    """Every frame of ``video`` as OpenCV's BGR24 (bicubic scaler, the frame's own matrix
    unless ``matrix`` forces one), one at a time; ``info`` is filled in once the stream is
    open. ``threads``: FFmpeg's decoder threads (0: its own choice, one per CPU and one more;
    see :func:`pair_decode_threads` for two decoders at once). Each array is a new one (PyAV's
    ``to_ndarray``), the caller's to keep: the CPU metrics take them as they come
    (:class:`FrameStream`).

    Why not libswscale's RGB24 output, which would save the channel swap: it is not BGR24's
    mirror image on every input (on 10-bit H.264 frame 0 of the test corpus it was up to 4
    levels off OpenCV's pixels), while a swap of OpenCV's own BGR24 is exact by construction.

    The same checks, in the same order and with the same one-line messages, as
    :func:`decode_all` (which is this, collected): a decode error names ``where``; no frame,
    or fewer than the container declares (a truncated file), is an error at the end."""
    import av

    src, name = _source(video, matrix, where)
    info = info if info is not None else StreamInfo()
    forced = _AV_NAMES.get(matrix)  # None: the frame's own tag, as OpenCV
    try:
        with av.open(src, mode="r") as container:  # type: ignore[call-overload]
            if not container.streams.video:
                raise InputFileError("file has no video stream; regenerate it", path=name)
            stream = container.streams.video[0]
            # Frame threads: FFmpeg's decoder output does not depend on its thread count, and
            # decoding is most of a whole-video compare (issue 14: decode with threads).
            stream.thread_type = "AUTO"
            if threads:
                stream.codec_context.thread_count = threads
            # libswscale's own threads (PyAV >= 17's default 0: one per CPU, in a pool that each
            # frame's new scaler context starts again) follow the decoder's: where the caller gave the
            # decoder a count (two decoders beside CPU metrics) the conversion runs on the
            # decoder's thread. Measured on the 2-core VM, 5 cases of 121 x 1536 x 1024
            # (alternating rounds of 4): 1 thread 18.3 CPU-s / 9.6 s, the pool 19.3 / 10.3 s.
            # The pixels do not depend on it (tests/test_video_decode.py).
            sws = {"threads": threads} if threads and _reformat_takes_threads() else {}
            info.tag = tag_name(stream.codec_context.colorspace)
            info.matrix = matrix_of_tag(info.tag) if matrix == "auto" else matrix
            info.open_stream(stream)
            last_pts: int | None = None
            # container.decode(stream) is this loop; it is spelt out for the packets' sync flags.
            for packet in container.demux(stream):
                info.count_packet(packet)
                for frame in packet.decode():
                    pts = frame.pts
                    info.frame_pts.append(pts)
                    if pts is None or (last_pts is not None and pts <= last_pts):
                        info.pts_increasing = False
                    last_pts = pts if pts is not None else last_pts
                    bgr = frame.reformat(format="bgr24", interpolation="BICUBIC", src_colorspace=forced,
                                         dst_colorspace=forced, **sws).to_ndarray()
                    info.decoded += 1
                    yield bgr
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        if isinstance(exc, InputFileError):
            raise
        why = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise InputFileError(f"cannot decode video ({why}); regenerate it", path=name) from exc
    if not info.decoded:
        raise InputFileError("video has no decodable frames; regenerate it", path=name)
    if info.declared and info.decoded < info.declared:
        raise InputFileError(f"decoded {info.decoded} of {info.declared} frames (truncated video); "
                             "regenerate it", path=name)


def pair_decode_threads(device: str = "cpu") -> int:
    """FFmpeg threads for each of two videos decoded at once (a whole-video compare decodes GT
    and candidate together, :class:`FrameStream`) while the metrics run on ``device``: with
    the metrics on the CPU, half the CPUs this process may use (at least one); with them on a
    GPU, 0 (FFmpeg's own choice, a thread per CPU and one more). ``GT_GEN_DECODE_THREADS``
    sets it for both.

    Why: with CPU metrics, two decoders at FFmpeg's count run twice as many frame threads as
    there are CPUs, beside the metric kernel. A frame thread holds its own decoder context and
    hands frames across threads, work that buys nothing once the CPUs are busy anyway: on the
    2-core VM, one thread per decoder cut a 121-frame 1536x1024 case from 2.47 to 2.23 s (4.65
    to 4.38 CPU-s; medians of 6 alternating rounds of scripts/bench_compare.py's group); for
    25 x 768 x 512 cases it made no difference beyond the VM's noise. With GPU metrics the
    CPUs are not all busy (16 cores: ~9 busy), and for short videos FFmpeg's
    count decoded faster (lent H200, 60 cases of 25 x 768 x 512: 0.044 s a case against 0.062
    with 8 threads each). The decoded pixels do not depend on the thread count."""
    from gt_gen import cpus

    env = cpus.from_env("GT_GEN_DECODE_THREADS")
    if env is not None:
        return env
    if str(device).startswith("cuda"):
        return 0
    return max(1, cpus.available() // 2)


def to_rgb(bgr: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """BGR -> RGB: a pure reordering of the channels (no arithmetic, so exactly
    ``bgr[..., ::-1]``), into ``out`` if given (the decoder's chunk buffers). One frame
    ``[H, W, 3]`` or a stack of them ``[..., H, W, 3]``.

    The C extension's one-thread swap where it is built and both arrays are contiguous, else
    OpenCV's. Why not always OpenCV: cvtColor hands the swap to OpenCV's thread pool, whose
    spinning workers took the cores FFmpeg decodes on (two decoders swapping at once on a
    16-core host: 4.2 CPU-s for one case's decodes instead of 2.9); a strided numpy copy costs
    as much as decoding the frame."""
    swap = _swap_rb()
    if (swap is not None and bgr.flags.c_contiguous and bgr.dtype == np.uint8 and bgr.ndim >= 3
            and bgr.shape[-1] == 3 and (out is None or (out.flags.c_contiguous and out.shape == bgr.shape
                                                        and out.dtype == np.uint8))):
        out = np.empty_like(bgr) if out is None else out
        swap(bgr, out)  # pixel by pixel over the flat buffer: any number of frames
        return out
    if bgr.ndim > 3:  # a stack: OpenCV swaps one image at a time
        out = np.empty_like(bgr) if out is None else out
        for b, o in zip(bgr, out):
            to_rgb(b, o)
        return out
    import cv2

    if out is None:
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=out)
    return out


@functools.cache
def _swap_rb() -> Callable[[np.ndarray, np.ndarray], None] | None:
    """The C extension's channel swap, or None where it is not built (a wheel built without a
    compiler). Looked up once per process: :func:`to_rgb` runs for every decoded frame."""
    try:
        from gt_gen.metrics._fastssim import swap_rb  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - depends on the install
        return None
    return swap_rb  # type: ignore[no-any-return]


def decode_all(video: str | Path | bytes, matrix: str = "auto", *,
               where: str | Path | None = None) -> DecodedVideo:
    """Decode every frame of ``video`` (a path or the file's bytes); ``where`` names it in
    errors (the user's file or GT relpath, never a temporary copy)."""
    info = StreamInfo()
    frames = [to_rgb(bgr) for bgr in bgr_frames(video, matrix, where=where, info=info)]
    return DecodedVideo(frames=frames, tag=info.tag, matrix=info.matrix, declared=info.declared,
                        stream=info)


#: Bytes of decoded frames per chunk handed from a decoder thread to the metrics: a few frames
#: (at most :data:`CHUNK_FRAMES`), so the metrics start on the first ones while the rest decode.
CHUNK_BYTES = 24 << 20
CHUNK_FRAMES = 8
#: Chunks a decoder may run ahead of the metrics (a bounded queue: memory stays a few chunks
#: per video, never a whole decoded video).
DEPTH = 2


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


class _Packer:
    """The second half of a decoder that fills chunk buffers (:meth:`FrameStream._hand_over_chunked`):
    on a thread of its own, each chunk's BGR frames swapped into its buffer, then the chunk
    queued, chunk after chunk in the order they were handed in.

    Why a thread: the swap into pinned memory is a read and a write of every frame, and on the
    lent H200's host it took 30% of a decoder thread's time beside 41% for the colour conversion
    (a sampling profile of 10 cases of 121 x 1536 x 1024), while the metrics thread waited for
    frames half of the time: each video's frames pass through one decoder thread, so its work
    per frame bounds the case. Here one chunk's swaps overlap the decoding of the next. Whole
    chunks, not frames, are handed over: a hand-over per frame cost more than it saved on small
    frames (lent H200, 25 x 768 x 512: 0.054 s a case against 0.045 without the thread).

    Order is what keeps :meth:`FrameStream._hand_over_chunked`'s recycling safe: a buffer is
    written only after every chunk before it was queued, as when the decoder thread wrote it.
    One chunk at a time is in the packer (the decoder waits for it before handing in the
    next), so memory stays bounded while the queue is full. A failed swap is raised in the
    decoder thread at its next hand-over, or by :meth:`finish`; no chunk after it is queued."""

    def __init__(self, put: Callable[[object], bool]) -> None:
        self._put = put
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gt-gen-pack")
        self._last: Future[None] | None = None  # the chunk handed in last
        #: False once a put found the stream closed.
        self.ok = True

    def pack(self, frames: list[np.ndarray], chunk: np.ndarray) -> None:
        """Swap ``frames`` into ``chunk`` (as many frames as it holds), then queue it; first
        waits for the chunk before (its failed swap is raised here, in the decoder, and no
        chunk after it is handed in)."""
        self._wait()
        self._last = self._pool.submit(self._pack_one, frames, chunk)

    def _wait(self) -> None:
        last, self._last = self._last, None
        if last is not None:
            last.result()

    def _pack_one(self, frames: list[np.ndarray], chunk: np.ndarray) -> None:
        for bgr, out in zip(frames, chunk):
            to_rgb(bgr, out)
        if not self._put(chunk):
            self.ok = False

    def finish(self, quiet: bool = False) -> bool:
        """Wait for everything handed in; False if the stream was closed meanwhile. ``quiet``:
        an error is already on its way, which this one's would hide."""
        try:
            if quiet and self._last is not None:
                self._last.exception()
            else:
                self._wait()
        finally:
            self._pool.shutdown(wait=True)
        return self.ok


class FrameStream:
    """One video decoded (:func:`bgr_frames`) by a worker thread and handed over in chunks
    ``[k, H, W, 3]`` through a bounded queue: BGR where :attr:`bgr` says so, else RGB.

    Why: decoding and the metrics then run at once (PyAV/FFmpeg and the metric kernel release
    the GIL), and the next case's videos can decode while this one is measured. :meth:`chunks`
    gives the chunks in order and raises the decoder's error where it happened, exactly as
    :func:`decode_all` would have; :meth:`close` stops the worker (a closed stream's thread
    ends at its next frame).

    Two ways to hand frames over:

    * no ``alloc`` (the CPU metrics): each frame as libswscale wrote it, BGR, in its own
      buffer (a new one per frame, which the reader then owns), as a one-frame chunk; the C
      kernel measures BGR frames as their RGB images (``bgr=True``), bit for bit. Swapping
      into batch buffers instead was a read and a write of every frame (and swapping in place
      is ~10x slower: each 16-byte store overlaps the next load); with glibc's defaults each
      new frame buffer was also fresh memory to fault in (:mod:`gt_gen.heap` keeps freed
      frames for reuse). Up to ``depth`` x :data:`CHUNK_FRAMES` frames wait in the queue;
    * ``alloc`` (e.g. pinned host memory, from which frames reach a GPU without a staging
      copy): chunks of up to :data:`CHUNK_FRAMES` frames in buffers from ``alloc``, recycled,
      up to ``depth`` chunks queued."""

    def __init__(self, video: str | Path | bytes, matrix: str = "auto", *,
                 where: str | Path | None = None, depth: int = DEPTH,
                 alloc: Callable[[tuple[int, ...]], np.ndarray] | None = None, threads: int = 0) -> None:
        self.video, self.matrix, self.where = video, matrix, where
        #: FFmpeg decoder threads (0: FFmpeg's choice; :func:`pair_decode_threads`).
        self.threads = threads
        #: Allocates the chunk buffers (uint8, the given shape); None: frames go as decoded.
        self.alloc = alloc
        #: Whether the chunks are BGR (frames as decoded) rather than RGB (chunk buffers).
        self.bgr = alloc is None
        self.info = StreamInfo()
        ahead = max(1, depth) * (CHUNK_FRAMES if alloc is None else 1)
        self._q: queue.Queue[object] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()

    def start(self, submit: Callable[[Callable[[], None]], object] | None = None) -> FrameStream:
        """Run the decoder on ``submit`` (e.g. an executor's ``submit``) or its own thread."""
        if submit is None:
            threading.Thread(target=self.run, name="gt-gen-decode", daemon=True).start()
        else:
            submit(self.run)
        return self

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        """The decoder: every frame queued as it is (no ``alloc``) or into chunk buffers, then
        the end mark; an error is queued for the reader instead."""
        if self._stop.is_set():
            return
        frames: Generator[np.ndarray, None, None] | None = None
        try:  # everything, the call too: a worker that died unheard would leave its reader waiting
            frames = bgr_frames(self.video, self.matrix, where=self.where, info=self.info,
                                threads=self.threads)
            if self._hand_over(frames) if self.alloc is None else self._hand_over_chunked(frames, self.alloc):
                self._put(_END)
        except BaseException as exc:  # noqa: BLE001  (handed to the reader, raised there)
            self._put(_Failed(exc))
        finally:
            if frames is not None:
                frames.close()

    def _hand_over(self, frames: Iterator[np.ndarray]) -> bool:
        """Each frame as a one-frame chunk; False when the stream was closed meanwhile."""
        for bgr in frames:
            if self._stop.is_set() or not self._put(bgr[None]):
                return False
        return True

    def _hand_over_chunked(self, frames: Iterator[np.ndarray],
                           alloc: Callable[[tuple[int, ...]], np.ndarray]) -> bool:
        """The frames, RGB, in chunk buffers from ``alloc``; False when the stream was closed.

        Chunk buffers are recycled, never freed. A fresh buffer above glibc's mmap threshold
        (32 MB at most) is a fresh mmap whose first touch page-faults: 2.2 ms per 1536x1024
        frame measured for 38 MB buffers, against 0.16 ms for the channel swap into a warm one;
        below it, malloc usually hands back the freed block. Recycling makes that certain, and
        it is what makes pinned buffers (``alloc``, slow to allocate) affordable. A buffer is
        refilled only after the reader has moved two chunks past it: ``depth`` queued + the
        one it reads + the one filling (tests/test_compare.py's pipelined-equals-in-line test
        runs videos of up to 13 one-frame chunks through it)."""
        packer = _Packer(self._put)
        try:
            handed = self._fill_chunks(frames, alloc, packer)
        except BaseException:
            packer.finish(quiet=True)  # what was handed over before the error is queued first
            raise
        return packer.finish() and handed

    def _fill_chunks(self, frames: Iterator[np.ndarray], alloc: Callable[[tuple[int, ...]], np.ndarray],
                     packer: _Packer) -> bool:
        """Chooses each frame's chunk buffer (:meth:`_hand_over_chunked`) and hands each chunk's
        frames to the packer, which swaps them in and queues the chunk on its own thread."""
        pool: list[np.ndarray] = []
        turn = 0
        buf: np.ndarray | None = None
        held: list[np.ndarray] = []  # the BGR frames of buf, not yet handed to the packer
        for bgr in frames:
            if self._stop.is_set() or not packer.ok:
                return False
            if buf is not None and buf.shape[1:] != bgr.shape:  # the size changed: flush
                packer.pack(held, buf[:len(held)])
                buf, held = None, []
            if buf is None:
                per = max(1, min(CHUNK_FRAMES, CHUNK_BYTES // max(1, bgr.nbytes)))
                if not pool or pool[0].shape != (per, *bgr.shape):
                    pool, turn = [], 0
                if len(pool) < self._q.maxsize + 2:
                    pool.append(alloc((per, *bgr.shape)))
                buf = pool[turn % len(pool)]
                turn += 1
            held.append(bgr)
            if len(held) == len(buf):
                packer.pack(held, buf)
                buf, held = None, []
        if buf is not None and held:  # the last, partly filled chunk
            packer.pack(held, buf[:len(held)])
        return True

    def chunks(self) -> Iterator[np.ndarray]:
        """The decoded chunks in order; the decoder's error is raised where it happened.

        With ``alloc`` a chunk is valid until the reader asks for the one after the next (its
        buffer is then refilled, see :meth:`_hand_over_chunked`): copy what must outlive that."""
        while True:
            item = self._q.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            assert isinstance(item, np.ndarray)
            yield item

    def close(self) -> None:
        """Stop the decoder and drop what it queued (idempotent)."""
        self._stop.set()
        while True:
            try:
                self._q.get_nowait()
            except queue.Empty:
                return
