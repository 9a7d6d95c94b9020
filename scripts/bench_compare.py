"""Benchmark: what a user waits for, `gt-gen compare` (the CLI), on a synthetic group.

Not the metric kernels (scripts/bench_metrics.py times those): the command, with start-up,
GT reading, decoding, metrics and report images. A synthetic group is encoded here once:

* N cases of 121 x 1536 x 1024 (default N = 10), and the 5-case ltx shape 768 x 512 x 25;
* per case a GT folder (key-frame PNGs as sglang's OpenCV seek reads them, plus the GT mp4)
  and a candidate mp4 (the same frames re-encoded at another quality, so cases pass).

Reported per shape (medians over --repeat >= 3 rounds, each CLI run in a fresh process; in
each round the decode floor is measured beside that round's CLI runs and the ratios are taken
per round, so a shared machine's drift between minutes does not skew them; the machine's
load average is printed too):

* ``decode_floor_s``: decoding both mp4s of one case, one after the other, to the pixels
  sglang's OpenCV path gives (PyAV, BGR24 with the bicubic scaler, frame threads: exactly the
  settings of ``gt_gen.video_decode.bgr_frames``, checked against it once), in process: the least
  any whole-video compare must spend. ``decode_concurrent_s``: the same two decodes in two
  threads at once (the least wall time decoding can take here), for reference;
* per-case figures are marginal: (T(N cases) - T(1 case)) / (N - 1), which removes start-up
  (imports, CUDA, CLIP) whatever it costs; ``startup_s`` = T(1 case) - one case's cost;
* ``whole_per_case_s`` and ``whole_ratio``: ``--frames all --gate-frames all`` per case, and its
  ratio to the decode floor (the issue's target: <= 1.3); ``whole_sequential_*``: the same with
  ``GT_GEN_COMPARE_PIPELINE=0`` (GT, candidate and metrics one after the other), so the gain of
  the pipelining is measured, not assumed;
* ``cpu``: the same per-case figures in CPU seconds (user + system, all threads), which a shared
  machine disturbs far less than wall time; on C cores a case costs at least cpu / C of wall;
* ``key_read_floor_s``: sglang's own key-frame read of one candidate (:func:`sglang_key_read`),
  measured in each round, and ``key_ratio_to_read_floor``: a case of the key-frame compare
  against it;
* ``key_group_s`` and ``key_budget_s``: ``--frames key`` (the default) for the whole group, and
  the target 2 s + 0.2 s per case on CPU;
* ``pipeline_bound_*`` (CPU metrics only): one case through the least pipeline there can be,
  the two decodes at once and the C kernel on each pair as it comes, nothing else, in this
  process (:func:`pipeline_bound`), and its ratio to the same round's floor: what the CLI's
  ratio can approach on this machine without a faster decoder or kernel.

    python scripts/bench_compare.py [--device cpu|cuda] [--cases 10] [--repeat 3] [--small]
    python scripts/bench_compare.py --ab BASE_CHECKOUT [--repeat 5] ...   # before/after, same rounds

``--small`` shrinks everything (3 cases of 25 x 320 x 192, 2 of 25 x 256 x 160, one repeat)
so that the script itself can be checked in seconds on a small CPU. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CHECKOUT = REPO  # the gt-gen whose CLI is timed (--repo: e.g. an older checkout, for a baseline)
CPU: list[float] = []  # CPU seconds (user + system) of each CLI run, appended by cli()


def frames(n: int, h: int, w: int, seed: int) -> np.ndarray:
    """Smooth moving content with a little noise: codec friendly, not trivially compressible."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([127 + 90 * np.sin(x / (23 + 7 * c) + y / (31 + 5 * c)) for c in range(3)], -1)
    out = np.empty((n, h, w, 3), np.uint8)
    for t in range(n):
        out[t] = np.clip(base + 25 * np.sin(t / 5 + x / 40)[..., None] + rng.normal(0, 4, (h, w, 3)), 0, 255)
    return out


def encode(path: Path, fr: np.ndarray, crf: int) -> Path:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = fr.shape[2], fr.shape[1], "yuv420p"
        s.options = {"crf": str(crf), "preset": "veryfast"}
        for f in fr:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def decode(path: Path, threads: int = 0, each: Callable[[np.ndarray], object] | None = None) -> int:
    """Every frame to the pixels sglang's OpenCV path gives: BGR24 with the bicubic scaler and
    the frame's own colour tag, frame threads on. These are ``gt_gen.video_decode.bgr_frames``'s
    settings (another conversion, e.g. PyAV's default rgb24/bilinear, is other work, not the
    floor of this one); single pass, no copy beyond PyAV's. ``threads``: FFmpeg's count (0: its
    own, as the floor decodes); ``each`` gets every frame (:func:`pipeline_bound`)."""
    import av

    n = 0
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        st.thread_type = "AUTO"
        if threads:
            st.codec_context.thread_count = threads
        for f in c.decode(st):
            bgr = f.reformat(format="bgr24", interpolation="BICUBIC").to_ndarray()
            if each is not None:
                each(bgr)
            n += 1
    return n


def sglang_key_read(path: Path) -> float:
    """Seconds of sglang's own key-frame read of one candidate mp4 (its
    ``extract_key_frames_from_video``: OpenCV opens the file, then a seek and a read at 0,
    n // 2 and n - 1, each frame to RGB): the least a key-frame compare that gives sglang's
    pixels must spend on the candidate, whoever implements it. Where the stream's sync points
    are far apart (x264's defaults: 121 frames, IDRs at 0 and 31 here), reading frame n - 1
    decodes every frame from the last sync point before it."""
    import cv2

    t0 = time.perf_counter()
    cap = cv2.VideoCapture(str(path))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    for idx in (0, total // 2, total - 1):
        cap.set(cv2.CAP_PROP_POS_FRAMES, idx)
        ok, bgr = cap.read()
        assert ok, f"OpenCV cannot read frame {idx} of {path}"
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    cap.release()
    return time.perf_counter() - t0


def decode_floor(group: dict) -> float:
    """Seconds to decode one case's two mp4s, one after the other: the decode floor."""
    t0 = time.perf_counter()
    decode(group["gt_mp4"])
    decode(group["cand_mp4"])
    return time.perf_counter() - t0


def pipeline_bound(group: dict) -> tuple[float, float]:
    """Wall and CPU seconds of the least pipelined whole-video compare of one case on the CPU:
    the decode floor's two decodes in two threads at once (each with the FFmpeg thread count
    compare gives it, ``pair_decode_threads``), the C metric kernel on the main thread taking
    each pair as it comes, and nothing else (no GT checks, key frames, curves, report or
    results). Not a target but a bound: how close the CLI comes to what this machine and this
    kernel allow, and how much of the gap to the floor no change around the kernel can close."""
    import queue
    import threading

    from gt_gen.metrics import fast
    from gt_gen.video_decode import pair_decode_threads

    kernel, threads = fast._native, pair_decode_threads("cpu")
    if kernel is None:
        raise SystemExit("the C metric kernel is not built: pip install -e . builds it")

    def decoder(path: Path, q: queue.Queue) -> None:
        try:
            decode(path, threads, q.put)
        finally:  # the end mark even after an error: the main loop never waits for nothing
            q.put(None)

    c0, t0 = time.process_time(), time.perf_counter()
    qs: list[queue.Queue] = [queue.Queue(maxsize=2), queue.Queue(maxsize=2)]
    workers = [threading.Thread(target=decoder, args=(group[k], q), daemon=True)
               for k, q in zip(("gt_mp4", "cand_mp4"), qs)]
    for w in workers:
        w.start()
    while True:
        a, b = qs[0].get(), qs[1].get()
        if a is None or b is None:
            break
        kernel.metrics(a, b, a.shape[0], a.shape[1], 3, 255.0, None, 0, 0, True)
    for w in workers:
        w.join()
    return time.perf_counter() - t0, time.process_time() - c0


def check_floor_pixels(path: Path) -> None:
    """The floor decodes what compare decodes: its first and last frames equal gt-gen's
    (``decode_all`` is RGB, the floor BGR)."""
    import av

    sys.path.insert(0, str(CHECKOUT))
    try:
        from gt_gen.video_decode import decode_all
    except ImportError:  # an older checkout (--repo) without it: nothing to check against
        return
    finally:
        sys.path.pop(0)
    ours = decode_all(path).frames
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        st.thread_type = "AUTO"
        floor = [f.reformat(format="bgr24", interpolation="BICUBIC").to_ndarray() for f in c.decode(st)]
    assert len(floor) == len(ours), (len(floor), len(ours))
    for i in (0, len(ours) - 1):
        assert np.array_equal(floor[i][..., ::-1], ours[i]), f"floor frame {i} differs from gt-gen's"


def case_table(cid: str, w: int, h: int, n: int) -> str:
    return "\n".join([
        "[[case]]", f'id = "{cid}"', 'modality = "video"', 'backend = "sglang_native"',
        'pipeline = "one_stage"', 'runner = "bench"', 'comparability = "native_only"',
        'reason = "benchmark"', "[case.model]", 'repo = "bench"', 'revision = "none"',
        'checkpoint = "none"', "[case.request]", 'prompt = "benchmark"', f"width = {w}",
        f"height = {h}", f"num_frames = {n}", "seed = 1"]) + "\n"


def build_group(root: Path, name: str, count: int, shape: tuple[int, int, int]) -> dict[str, Path]:
    """cases/<name>.toml, gt/ (key-frame PNGs + GT mp4) and cand/ for ``count`` cases of one shape."""
    import cv2

    n, w, h = shape
    src = frames(n, h, w, seed=0)
    proto = root / "proto" / name
    gt_mp4 = encode(proto / "gt.mp4", src, crf=18)
    cand_mp4 = encode(proto / "cand.mp4", src, crf=20)
    cap = cv2.VideoCapture(str(gt_mp4))
    keys = {}
    for key, idx in (("0", 0), ("mid", n // 2), ("last", n - 1)):  # sglang's seek path
        cap.set(cv2.CAP_PROP_POS_FRAMES, idx)
        ok, bgr = cap.read()
        assert ok, f"cannot read frame {idx} of {gt_mp4}"
        keys[key] = cv2.imencode(".png", bgr)[1].tobytes()
    cap.release()
    cases, gt, cand = root / name / "cases", root / name / "gt", root / name / "cand"
    shutil.rmtree(root / name, ignore_errors=True)  # --keep into a folder used before: rebuilt
    for d in (cases, gt, cand):
        d.mkdir(parents=True)
    ids = [f"{name}_{i:02d}" for i in range(count)]
    (cases / f"{name}.toml").write_text("".join(case_table(c, w, h, n) for c in ids))
    for cid in ids:
        for key, png in keys.items():
            (gt / f"{cid}_1gpu_frame_{key}.png").write_bytes(png)
        os.link(gt_mp4, gt / f"{cid}_1gpu.mp4")
        os.link(cand_mp4, cand / f"{cid}_1gpu.mp4")
    return {"cases": cases, "gt": gt, "cand": cand, "gt_mp4": gt_mp4, "cand_mp4": cand_mp4,
            "ids": ids}  # type: ignore[dict-item]


def cli(group: dict, out: Path, ids: list[str], device: str, *extra: str, env: dict | None = None) -> float:
    """Seconds of one ``gt-gen compare`` in a fresh process (checked to pass), run from the
    checkout ``--repo`` names (default: this one)."""
    if out.exists():
        shutil.rmtree(out)
    sel = [a for cid in ids for a in ("--case", cid)]
    cmd = [sys.executable, "-m", "gt_gen", "compare", "--cases", str(group["cases"]), *sel,
           "--gt", str(group["gt"]), "--candidate", str(group["cand"]), "--out", str(out),
           "--clip-model", "none", "--device", device, "--metrics-backend", "fast", *extra]
    env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(
        [str(CHECKOUT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=CHECKOUT, env=env)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
    tag = " (sequential)" if (env or {}).get("GT_GEN_COMPARE_PIPELINE") == "0" else ""
    print(f"  {dt:7.2f} s  compare {len(ids)} case(s) {' '.join(extra)}{tag}", file=sys.stderr, flush=True)
    if proc.returncode != 0:
        raise SystemExit(f"compare failed ({proc.returncode}): {proc.stderr[-2000:]}\n{proc.stdout[-2000:]}")
    return dt


def median(fn, repeat: int) -> float:
    return statistics.median(fn() for _ in range(repeat))


def median_cpu(fn, repeat: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds of ``fn`` (a CLI run). CPU time is what a
    busy machine disturbs least: on a shared machine, read the CPU figures beside the wall ones."""
    walls, cpus = [], []
    for _ in range(repeat):
        walls.append(fn())
        cpus.append(CPU[-1])
    return statistics.median(walls), statistics.median(cpus)


def cpu_of(fn) -> float:
    """CPU seconds (this process, all threads) of ``fn``."""
    c0 = time.process_time()
    fn()
    return time.process_time() - c0


def bench_shape(root: Path, name: str, count: int, shape: tuple[int, int, int], device: str,
                repeat: int, sequential: bool = True) -> dict:
    import threading

    group = build_group(root, name, count, shape)
    ids: list[str] = group["ids"]  # type: ignore[assignment]
    out = root / name / "out"
    check_floor_pixels(group["cand_mp4"])

    def decode_both() -> float:
        return decode_floor(group)

    def decode_concurrent() -> float:
        t0 = time.perf_counter()
        threads = [threading.Thread(target=decode, args=(group[k],)) for k in ("gt_mp4", "cand_mp4")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - t0

    decode_both()  # warm-up: page cache, libraries
    concurrent = median(decode_concurrent, repeat)
    whole = ("--frames", "all", "--gate-frames", "all")
    seq = {"GT_GEN_COMPARE_PIPELINE": "0"}
    cli(group, out, ids[:1], device, *whole)  # warm-up, not counted: CUDA kernel build, disk cache
    load0 = os.getloadavg()[0]
    # Rounds: in each, the floor is measured right beside the CLI runs it is compared with,
    # and the ratios are taken per round, then their median: a shared machine's speed drifts
    # between minutes (this 2-core VM: the same floor measured 0.09 s and 0.14 s), which a
    # floor measured once up front would turn into a wrong ratio.
    rounds: list[dict[str, float]] = []
    for _ in range(repeat):
        r: dict[str, float] = {"floor": decode_both(), "floor_cpu": cpu_of(decode_both)}
        runs = [("w1", ids[:1], whole, None), ("wn", ids, whole, None),
                ("k1", ids[:1], (), None), ("kn", ids, (), None)]
        if sequential:  # else (--no-sequential) the reference path is not timed: null below
            runs[2:2] = [("s1", ids[:1], whole, seq), ("sn", ids, whole, seq)]
        for label, sel, extra, env in runs:
            r[label] = cli(group, out, sel, device, *extra, env=env)
            r[label + "_cpu"] = CPU[-1]
        r["floor_after"] = decode_both()
        r["key_floor"] = statistics.median(sglang_key_read(group["cand_mp4"]) for _ in range(3))
        floor_r = (r["floor"] + r["floor_after"]) / 2
        if not device.startswith("cuda"):
            r["bound"], r["bound_cpu"] = pipeline_bound(group)
            r["bound_ratio"] = r["bound"] / floor_r
        r["per_whole"] = (r["wn"] - r["w1"]) / (count - 1)
        r["per_key"] = (r["kn"] - r["k1"]) / (count - 1)
        r["key_ratio"] = r["per_key"] / r["key_floor"]
        r["cpu_whole"] = (r["wn_cpu"] - r["w1_cpu"]) / (count - 1)
        r["ratio"] = r["per_whole"] / floor_r
        r["ratio_cpu"] = r["cpu_whole"] / r["floor_cpu"]
        if sequential:
            r["per_seq"] = (r["sn"] - r["s1"]) / (count - 1)
            r["cpu_seq"] = (r["sn_cpu"] - r["s1_cpu"]) / (count - 1)
            r["ratio_seq"] = r["per_seq"] / floor_r
        rounds.append(r)

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    def med_seq(key: str, digits: int) -> float | None:
        return round(med(key), digits) if sequential else None

    def med_cpu_only(key: str, digits: int) -> float | None:  # the pipeline bound: CPU metrics only
        return round(med(key), digits) if all(key in r for r in rounds) else None

    floor = statistics.median((r["floor"] + r["floor_after"]) / 2 for r in rounds)
    floor_cpu = med("floor_cpu")
    t1_whole, tn_whole, t1_key, tn_key = med("w1"), med("wn"), med("k1"), med("kn")
    per_whole, per_key, cpu_whole = med("per_whole"), med("per_key"), med("cpu_whole")
    return {"shape": {"frames": shape[0], "width": shape[1], "height": shape[2]}, "cases": count,
            "decode_floor_s": round(floor, 3), "decode_concurrent_s": round(concurrent, 3),
            "whole_1_case_s": round(t1_whole, 3), "whole_group_s": round(tn_whole, 3),
            "whole_per_case_s": round(per_whole, 3), "whole_ratio": round(med("ratio"), 2),
            "whole_ratio_per_round": [round(r["ratio"], 2) for r in rounds],
            "whole_ratio_to_concurrent_decode": round(per_whole / concurrent, 2),
            "pipeline_bound_s": med_cpu_only("bound", 3), "pipeline_bound_ratio": med_cpu_only("bound_ratio", 2),
            "pipeline_bound_ratio_per_round": [round(r["bound_ratio"], 2) for r in rounds if "bound_ratio" in r],
            "startup_s": round(t1_whole - per_whole, 3),
            "whole_sequential_per_case_s": med_seq("per_seq", 3),
            "whole_sequential_ratio": med_seq("ratio_seq", 2),
            "cpu": {"decode_floor_s": round(floor_cpu, 3), "whole_per_case_s": round(cpu_whole, 3),
                    "whole_ratio": round(med("ratio_cpu"), 2),
                    "whole_sequential_per_case_s": med_seq("cpu_seq", 3),
                    "pipeline_bound_s": med_cpu_only("bound_cpu", 3), "cores": os.cpu_count()},
            "startup_and_first_case_s": round(t1_key, 3),
            "key_group_s": round(tn_key, 3), "key_per_case_s": round(per_key, 3),
            "key_budget_s": round(2 + 0.2 * count, 2), "key_budget_met": tn_key <= 2 + 0.2 * count,
            "key_read_floor_s": round(med("key_floor"), 3), "key_ratio_to_read_floor": round(med("key_ratio"), 2),
            "load_average": [round(load0, 2), round(os.getloadavg()[0], 2)]}


def ab_shape(root: Path, name: str, count: int, shape: tuple[int, int, int], device: str,
             rounds: int, checkouts: dict[str, Path]) -> dict:
    """Before/after in one run: the whole-video figures of each checkout, measured in the same
    rounds (their order alternating), each beside that round's decode floor. Two checkouts
    timed one after the other on a shared machine differ by its drift between minutes (the
    same code measured 1.27x and 1.55x on two H200s); within a round they see the same
    machine. Per checkout: median per-case seconds, ratio to the floor and CPU seconds, the
    per-round ratios, and where its key frames came from (results.json of case 0)."""
    global CHECKOUT
    group = build_group(root, name, count, shape)
    ids: list[str] = group["ids"]  # type: ignore[assignment]
    out = root / name / "out"
    whole = ("--frames", "all", "--gate-frames", "all")

    decode_floor(group)  # warm-up: page cache, libraries
    for repo in checkouts.values():  # warm-up, not counted: kernel builds, disk cache
        CHECKOUT = repo
        cli(group, out, ids[:1], device, *whole)
    runs: dict[str, list[dict]] = {k: [] for k in checkouts}
    for r in range(rounds):
        f0 = decode_floor(group)
        got = {}
        for label in (list(checkouts) if r % 2 == 0 else list(checkouts)[::-1]):
            CHECKOUT = checkouts[label]
            w1 = cli(group, out, ids[:1], device, *whole)
            c1 = CPU[-1]
            wn = cli(group, out, ids, device, *whole)
            cn = CPU[-1]
            case0 = json.loads((out / "results.json").read_text())["cases"][0]
            got[label] = (w1, wn, c1, cn, case0.get("whole_video", {}).get("candidate", {}).get("key_frames_from"))
        fl = (f0 + decode_floor(group)) / 2
        for label, (w1, wn, c1, cn, src) in got.items():
            per = (wn - w1) / (count - 1)
            runs[label].append({"floor": fl, "per": per, "ratio": per / fl, "cpu": (cn - c1) / (count - 1),
                                "startup": w1 - per, "src": src})

    def med(rs: list[dict], key: str, digits: int) -> float:
        return round(statistics.median(x[key] for x in rs), digits)

    return {"shape": {"frames": shape[0], "width": shape[1], "height": shape[2]}, "cases": count,
            "rounds": rounds, "decode_floor_s": round(statistics.median(x["floor"] for x in runs[next(iter(runs))]), 3),
            "checkouts": {label: {"path": str(checkouts[label]), "whole_per_case_s": med(rs, "per", 3),
                                  "whole_ratio": med(rs, "ratio", 2),
                                  "whole_ratio_per_round": [round(x["ratio"], 2) for x in rs],
                                  "cpu_whole_per_case_s": med(rs, "cpu", 3), "startup_s": med(rs, "startup", 2),
                                  "key_frames_from": rs[0]["src"]} for label, rs in runs.items()}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cases", type=int, default=10, help="cases of the big shape (default 10)")
    ap.add_argument("--ltx-cases", type=int, default=5,
                    help="cases of the ltx shape (default 5, the issue's group; on a GPU a case is "
                         "a few hundredths of a second, inside start-up's jitter: take 30 there)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure, median (at least 3)")
    ap.add_argument("--small", action="store_true", help="small shapes, one repeat: a quick check")
    ap.add_argument("--keep", default=None, help="build the synthetic group here and keep it")
    ap.add_argument("--repo", default=None, help="time the CLI of this gt-gen checkout instead")
    ap.add_argument("--only", choices=("big", "ltx"), default=None, help="one shape only")
    ap.add_argument("--ab", default=None, metavar="BASE",
                    help="before/after: time this checkout and the gt-gen checkout BASE in the same "
                         "rounds, alternating (whole-video figures only)")
    ap.add_argument("--no-sequential", action="store_true",
                    help="skip timing the sequential reference path (GT_GEN_COMPARE_PIPELINE=0)")
    args = ap.parse_args(argv)
    global CHECKOUT
    if args.repo:
        CHECKOUT = Path(args.repo).resolve()
    if args.small:
        shapes = [("big", 3, (25, 320, 192)), ("ltx", 2, (25, 256, 160))]
        repeat = 1
    else:
        shapes = [("big", args.cases, (121, 1536, 1024)), ("ltx", args.ltx_cases, (25, 768, 512))]
        repeat = max(3, args.repeat)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gt-gen-bench-compare-"))
    try:
        report = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                              "python": platform.python_version(), "device": args.device},
                  "repeat": repeat, "shapes": {}}
        if args.device.startswith("cuda"):
            import torch

            report["machine"]["gpu"] = torch.cuda.get_device_name(0)
        report["checkout"] = str(CHECKOUT)
        for name, count, shape in shapes:
            if args.only and name != args.only:
                continue
            print(f"{name}: {count} case(s) of {shape[0]}x{shape[1]}x{shape[2]}", file=sys.stderr, flush=True)
            if args.ab:
                ab = report["shapes"][name] = ab_shape(root, name, count, shape, args.device, repeat,
                                                       {"this": CHECKOUT, "base": Path(args.ab).resolve()})
                for label, c in ab["checkouts"].items():
                    print(f"{name} [{label}]: whole video {c['whole_per_case_s']:.3f} s/case = {c['whole_ratio']}x "
                          f"the decode floor {ab['decode_floor_s']:.3f} s (rounds {c['whole_ratio_per_round']}); "
                          f"CPU {c['cpu_whole_per_case_s']:.3f} s/case; key frames from: {c['key_frames_from']}",
                          file=sys.stderr, flush=True)
                continue
            r = report["shapes"][name] = bench_shape(root, name, count, shape, args.device, repeat,
                                                         sequential=not args.no_sequential)
            print(f"{name}: whole video {r['whole_per_case_s']:.3f} s/case = {r['whole_ratio']}x the "
                  f"decode floor {r['decode_floor_s']:.3f} s (sequential path: "
                  f"{'not timed' if r['whole_sequential_ratio'] is None else str(r['whole_sequential_ratio']) + 'x'}); start-up {r['startup_s']:.2f} s; key frames "
                  f"{r['key_group_s']:.2f} s for {count} cases (budget {r['key_budget_s']} s; per case "
                  f"{r['key_per_case_s']:.3f} s = {r['key_ratio_to_read_floor']}x sglang's own key-frame read "
                  f"of the candidate, {r['key_read_floor_s']:.3f} s); CPU "
                  f"{r['cpu']['whole_per_case_s']:.3f} s/case = {r['cpu']['whole_ratio']}x the floor's "
                  f"{r['cpu']['decode_floor_s']:.3f}; least pipeline (two decoders + the kernel, nothing "
                  f"else): {r['pipeline_bound_ratio']}x; load {r['load_average']}", file=sys.stderr, flush=True)
        print(json.dumps(report, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
