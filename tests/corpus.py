"""A generated corpus of bad inputs for every gt-gen command (issue 11, "Done when").

Each :class:`Spec` names one bad input and knows how to build it in a folder of its own. The
test (``tests/test_bad_input_corpus.py``) runs each through ``gt_gen.cli.main`` in-process (a
subprocess for FIFOs) and holds it to the promise: exit 2 (1 only where a gate may fail, as for
GT whose manifest cannot be read), never 3, never a hang, one ``gt-gen: error:`` line naming
the file, the case or the option, no traceback, and nothing written or changed.

The bad inputs are built from *families* crossed with the commands that read them: every JSON
document gt-gen reads gets the same malformed-JSON family; every file argument gets the
special-file family (directory, FIFO, ``/dev/zero``, missing, symlink loop); results.json gets
the wrong-types family; case files get the numbers and names families; every command gets its
own bad options and unwritable outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tests.casefiles import case_toml

REPO = Path(__file__).resolve().parent.parent
SHA = "0123456789abcdef0123456789abcdef01234567"
VIDEO, IMAGE, OFFICIAL = "cv", "ci", "co"
GROUP = "c"


@dataclass(frozen=True)
class Input:
    """One built bad input: what to run and what the error line must name."""

    argv: tuple[str, ...]
    #: The error line names at least one of these (the file, the case or the option).
    names: tuple[str, ...]
    codes: tuple[int, ...] = (2,)
    subprocess: bool = False
    #: ...and every one of these (e.g. the field of a case file).
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Spec:
    """A named bad input; ``build(base, d)`` creates it under ``d`` (base: shared valid inputs)."""

    id: str
    build: Callable[[Base, Path], Input]
    subprocess: bool = False


# ---------------------------------------------------------------------------------------------
# The valid base every bad input varies one thing of


def _png(path: Path, seed: int = 0, h: int = 64, w: int = 96) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 2 + y + 40 * c + int(rng.integers(0, 9))) % 256 for c in range(3)], -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img.astype(np.uint8)).save(path)
    return path


def _gt_files(folder: Path) -> None:
    for cid in (VIDEO, OFFICIAL):
        for k in ("0", "mid", "last"):
            _png(folder / f"{cid}_1gpu_frame_{k}.png")
    _png(folder / f"{IMAGE}_1gpu.png")


@dataclass
class Base:
    """Valid inputs for every command, built once; the corpus never writes here."""

    root: Path
    cases: Path = field(init=False)
    gt: Path = field(init=False)
    layout_gt: Path = field(init=False)
    cand: Path = field(init=False)
    thresholds: Path = field(init=False)
    results: Path = field(init=False)
    history: Path = field(init=False)
    controls: Path = field(init=False)
    audit: Path = field(init=False)
    repo: Path = field(init=False)

    def __post_init__(self) -> None:
        r = self.root
        self.cases = r / "cases"
        self.cases.mkdir(parents=True)
        (self.cases / f"{GROUP}.toml").write_text(
            case_toml(VIDEO, num_frames=9) + case_toml(IMAGE, modality="image")
            + case_toml(OFFICIAL, official=True, num_frames=9))
        self.gt = r / "gt"
        _gt_files(self.gt)
        self.layout_gt = r / "layout-gt"
        off = self.layout_gt / "diffusion-ci/consistency_gt/official_generated"
        _gt_files(off)
        (off / "case_map.json").write_text(json.dumps({"cases": {OFFICIAL: sorted(
            p.name for p in off.glob(f"{OFFICIAL}_*.png"))}}))
        self.cand = r / "cand"
        _gt_files(self.cand)
        self.thresholds = r / "thresholds.json"
        shutil.copy(REPO / "thresholds" / "consistency_threshold.json", self.thresholds)
        from gt_gen.results import CaseResult, FrameResult, Results, write_results

        res = r / "results"
        self.results = write_results(Results(
            [CaseResult(VIDEO, "video", "failed", "gate failed",
                        gates={"ssim": {"value": 0.9, "direction": ">=", "source": "default"}},
                        worst={"ssim": 0.5, "psnr": float("inf")}, diff_image=f"{VIDEO}_diff.png",
                        frames=[FrameResult("first", 0, {"ssim": 0.5}, {"ssim": False})])],
            meta={"created": "2026-01-01T00:00:00+00:00", "gt_commit": SHA}), res / "results.json")
        _png(res / f"{VIDEO}_diff.png")
        self.history = r / "history.sqlite"
        from gt_gen.history import import_files

        import_files(self.history, [self.results])
        self.controls = r / "controls.json"
        self.controls.write_text(json.dumps({"schema_version": 1, "cases": {}}))
        self.audit = r / "audit.json"
        self.audit.write_text(json.dumps({"schema_version": 1, "findings": []}))
        self.repo = r / "ci-data.git"
        subprocess.run(["git", "init", "-q", "--bare", str(self.repo)], check=True)

    def compare(self, out: Path, *extra: str, gt: Path | None = None, cand: Path | None = None,
                group: bool = True) -> tuple[str, ...]:
        sel = ("--group", GROUP) if group else ()
        return ("compare", "--cases", str(self.cases), *sel, "--gt", str(gt or self.gt),
                "--candidate", str(cand or self.cand), "--out", str(out), "--clip-model", "none",
                *extra)


# ---------------------------------------------------------------------------------------------
# Families

#: Malformed JSON documents: each must be refused by every JSON reader, naming the file.
BAD_JSON: dict[str, bytes] = {
    "empty": b"",
    "not_utf8": b"\xff\xfe{\x00\x00garbage",
    "truncated": b'{"cases": {"a": ',
    "nan": b'{"cases": {}, "x": NaN}',
    "neg_infinity": b'{"cases": {}, "x": -Infinity}',
    "dup_keys": b'{"cases": {}, "cases": {}}',
    "deep_100k": b"[" * 100_000 + b"]" * 100_000,
    "int_5000_digits": b'{"cases": {}, "x": ' + b"9" * 5000 + b"}",
    "array_top": b"[1, 2, 3]",
    "string_top": b'"hello"',
    "null_top": b"null",
    "trailing_garbage": b'{"cases": {}} trailing',
    "binary_png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
}

#: Files that are not regular files (FIFOs run in a subprocess: a regression would hang).
SPECIAL = ("directory", "fifo", "dev_zero", "missing", "symlink_loop")


def special_file(kind: str, path: Path) -> Path:
    """Make ``path`` the special file ``kind`` (or return the path to use)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        return Path("/dev/zero")
    elif kind == "symlink_loop":
        path.symlink_to(path.name)
    return path


#: results.json documents that parse but carry wrong types: (name, cases[0] patch or whole doc).
def _result_case(**patch: object) -> dict:
    base: dict = {"case_id": VIDEO, "modality": "video", "status": "failed", "message": "m",
                  "gates": {"ssim": {"value": 0.9, "direction": ">=", "source": "default"}},
                  "worst": {"ssim": 0.5}, "frames": [], "clip": {}, "gt_folder": None,
                  "gt_files": {}, "candidate": None, "diff_image": None, "curves": {}}
    base.update(patch)
    return base


def _results_doc(*cases: dict, **top: object) -> bytes:
    doc: dict = {"schema_version": 1, "meta": {"created": "2026-01-01"}, "cases": list(cases)}
    doc.update(top)
    return json.dumps(doc).encode()


BAD_RESULTS: dict[str, bytes] = {
    "metric_string": _results_doc(_result_case(worst={"ssim": "high"})),
    "metric_bool": _results_doc(_result_case(worst={"ssim": True})),
    "gate_value_string": _results_doc(_result_case(gates={"ssim": {"value": "0.9", "direction": ">="}})),
    "gate_direction_bad": _results_doc(_result_case(gates={"ssim": {"value": 0.9, "direction": "=="}})),
    "gates_list": _results_doc(_result_case(gates=[])),
    "worst_list": _results_doc(_result_case(worst=[0.5])),
    "frames_dict": _results_doc(_result_case(frames={})),
    "frame_metrics_list": _results_doc(_result_case(frames=[{"frame": "first", "index": 0,
                                                             "metrics": [], "passed": {}}])),
    "frame_passed_string": _results_doc(_result_case(frames=[{"frame": "first", "index": 0,
                                                              "metrics": {}, "passed": {"ssim": "yes"}}])),
    "curves_numbers": _results_doc(_result_case(curves={"ssim": 0.5})),
    "case_id_int": _results_doc(_result_case(case_id=7)),
    "case_id_path": _results_doc(_result_case(case_id="../../etc/passwd")),
    "status_unknown": _results_doc(_result_case(status="great")),
    "modality_audio": _results_doc(_result_case(modality="audio")),
    "message_dict": _results_doc(_result_case(message={"a": 1})),
    "unknown_field": _results_doc(_result_case(extra_field=1)),
    "missing_case_id": _results_doc({"modality": "video", "status": "passed"}),
    "case_not_object": _results_doc("cv"),
    "cases_dict": _results_doc(cases={"cv": _result_case()}),
    "meta_list": _results_doc(_result_case(), meta=[]),
    "meta_created_dict": _results_doc(_result_case(), meta={"created": {"y": 2026}}),
    "schema_version_2": _results_doc(_result_case(), schema_version=2),
    "schema_version_string": _results_doc(_result_case(), schema_version="1"),
    "duplicate_case": _results_doc(_result_case(), _result_case()),
    "diff_image_absolute": _results_doc(_result_case(diff_image="/etc/hostname")),
    "diff_image_parent": _results_doc(_result_case(diff_image="../../secret.png")),
    "diff_image_int": _results_doc(_result_case(diff_image=3)),
    "gt_files_list": _results_doc(_result_case(gt_files=["a.png"])),
}

#: One case-file field at a time made bad: (dotted where, TOML text).
def _case(case_id: str = "bad", **req: str) -> str:
    lines = ["[[case]]", f'id = "{case_id}"', 'modality = "video"', 'backend = "sglang_native"',
             'pipeline = "one_stage"', 'runner = "r"', 'comparability = "native_only"',
             'reason = "t"', "[case.model]", 'repo = "x"', 'revision = "y"', 'checkpoint = "z"']
    model = {k[6:]: v for k, v in req.items() if k.startswith("model_")}
    lines += [f"{k} = {v}" for k, v in model.items()]
    request = {"prompt": '"p"', "width": "96", "height": "64", "num_frames": "9", "seed": "1"}
    request.update({k: v for k, v in req.items() if not k.startswith(("model_", "guidance_"))})
    lines += ["[case.request]"] + [f"{k} = {v}" for k, v in request.items()]
    guidance = {k[9:]: v for k, v in req.items() if k.startswith("guidance_")}
    if guidance:
        lines += ["[case.request.guidance]"] + [f"{k} = {v}" for k, v in guidance.items()]
    return "\n".join(lines) + "\n"


BAD_CASES: dict[str, tuple[str, str]] = {
    "fps_nan": ("fps", _case(fps="nan")),
    "fps_inf": ("fps", _case(fps="inf")),
    "fps_negative": ("fps", _case(fps="-24.0")),
    "frames_1e9": ("num_frames", _case(num_frames="1000000000")),
    "width_1048576": ("width", _case(width="1048576", height="1048576")),
    "height_zero": ("height", _case(height="0")),
    "steps_negative": ("steps", _case(steps="-3")),
    "seed_negative": ("seed", _case(seed="-1")),
    "lora_strength_inf": ("distilled_lora_strength", _case(model_distilled_lora_strength="inf")),
    "lora_strength_nan": ("distilled_lora_strength", _case(model_distilled_lora_strength="nan")),
    "guidance_nan": ("cfg_scale", _case(guidance_cfg_scale="nan")),
    "guidance_inf": ("stg_scale", _case(guidance_stg_scale="-inf")),
    "guidance_string": ("cfg_scale", _case(guidance_cfg_scale='"high"')),
    "guidance_blocks_floats": ("stg_blocks", _case(guidance_stg_blocks="[1.5]")),
    "width_string": ("width", _case(width='"96"')),
    "width_bool": ("width", _case(width="true")),
    "id_path": ("invalid case id", _case(case_id="../../x")),
    "id_slash": ("invalid case id", _case(case_id="a/b")),
    "unknown_key": ("unknown key", _case(color='"red"')),
    "malformed_toml": ("malformed TOML", "[[case]\nid = \n"),
    "toml_deep": ("malformed TOML", "a = " + "[" * 50_000 + "]" * 50_000 + "\n"),
    "toml_bigint": ("malformed TOML", "a = " + "9" * 5000 + "\n"),
    "not_utf8": ("UTF-8", "id = \"\udcff\"\n"),
    "duplicate_id": ("duplicate case id", _case(case_id="dup") + _case(case_id="dup")),
}


# ---------------------------------------------------------------------------------------------
# Builders


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_bytes(data.encode("utf-8", "surrogateescape"))
    else:
        path.write_bytes(data)
    return path


#: Commands that read one JSON document given on the command line: argv for a file F, out O.
JSON_READERS: dict[str, Callable[[Base, Path, Path], tuple[str, ...]]] = {
    "thresholds_check": lambda b, f, o: ("thresholds", "check", str(f), "--cases", str(b.cases)),
    "compare_thresholds": lambda b, f, o: b.compare(o, "--thresholds", str(f)),
    "audit_thresholds": lambda b, f, o: ("audit", "--cases", str(b.cases), "--thresholds", str(f),
                                         "--out", str(o)),
    "report_results": lambda b, f, o: ("report", str(f), "--html", str(o)),
    "report_audit": lambda b, f, o: ("report", str(b.results), "--audit", str(f), "--html", str(o)),
    "history_import": lambda b, f, o: ("history", "import", "--db", str(o / "h.sqlite"), str(f)),
    "audit_controls": lambda b, f, o: ("audit", "--cases", str(b.cases), "--controls", str(f),
                                       "--out", str(o)),
}
#: JSON readers whose file name gt-gen fixes: (folder to copy, file, argv for folder S, out O).
JSON_IN_FOLDERS: dict[str, tuple[str, str, Callable[[Base, Path, Path], tuple[str, ...]],
                                 tuple[int, ...]]] = {
    "compare_gt_manifest": ("gt", "manifest.json",
                            lambda b, s, o: b.compare(o, gt=s), (1, 2)),
    "fetch_gt_manifest": ("gt", "manifest.json",
                          lambda b, s, o: ("fetch", "--cases", str(b.cases), "--group", GROUP,
                                           "--source", str(s), "--out", str(o)), (1, 2)),
    "compare_case_map": ("layout_gt", "diffusion-ci/consistency_gt/official_generated/case_map.json",
                         lambda b, s, o: b.compare(o, "--case", OFFICIAL, gt=s, group=False), (1, 2)),
    "fetch_case_map": ("layout_gt", "diffusion-ci/consistency_gt/official_generated/case_map.json",
                       lambda b, s, o: ("fetch", "--cases", str(b.cases), "--case", OFFICIAL,
                                        "--group", GROUP, "--source", str(s), "--out", str(o)), (1, 2)),
    "publish_source_manifest": ("gt", "manifest.json",
                                lambda b, s, o: ("publish", "--source", str(s), "--target",
                                                 "sglang_generated", "--repo", str(b.repo),
                                                 "--cases", str(b.cases), "--check-only"), (2,)),
}


def _json_spec(reader: str, variant: str) -> Spec:
    def build(b: Base, d: Path) -> Input:
        f = _write(d / "input.json", BAD_JSON[variant])
        return Input(JSON_READERS[reader](b, f, d / "out"), (str(f),))
    return Spec(f"{reader}/json_{variant}", build)


def _folder_json_spec(reader: str, variant: str) -> Spec:
    src, rel, argv, codes = JSON_IN_FOLDERS[reader]

    def build(b: Base, d: Path) -> Input:
        s = d / "src"
        shutil.copytree(getattr(b, src), s)
        f = _write(s / rel, BAD_JSON[variant])
        return Input(argv(b, s, d / "out"), (str(f), rel.rsplit("/", 1)[-1], OFFICIAL, VIDEO), codes)
    return Spec(f"{reader}/json_{variant}", build)


#: Readers whose FIFO input also runs as a real ``python -m gt_gen`` (the hang check); the
#: others run in-process under an alarm.
FIFO_SUBPROCESS = ("thresholds_check", "report_results", "history_import")


def _special_spec(reader: str, kind: str) -> Spec:
    sub = kind == "fifo" and reader in FIFO_SUBPROCESS

    def build(b: Base, d: Path) -> Input:
        f = special_file(kind, d / "input.json")
        return Input(JSON_READERS[reader](b, f, d / "out"), (str(f),), subprocess=sub)
    return Spec(f"{reader}/{kind}", build, subprocess=sub)


def _results_spec(reader: str, variant: str) -> Spec:
    def build(b: Base, d: Path) -> Input:
        f = _write(d / "results.json", BAD_RESULTS[variant])
        return Input(JSON_READERS[reader](b, f, d / "out"), (str(f),))
    return Spec(f"{reader}/types_{variant}", build)


def _case_spec(command: str, variant: str) -> Spec:
    field_name, text = BAD_CASES[variant]

    def build(b: Base, d: Path) -> Input:
        cases = d / "cases"
        f = _write(cases / "g.toml", text)
        argv = {"cases_list": ("cases", "list", "--cases", str(cases)),
                "generate": ("generate", "--cases", str(cases), "--group", "all", "--out",
                             str(d / "out")),
                "compare": ("compare", "--cases", str(cases), "--group", "all", "--gt", str(b.gt),
                            "--candidate", str(b.cand), "--out", str(d / "out"), "--clip-model", "none"),
                "matrix": ("cases", "matrix", "--cases", str(cases), "--group", "all"),
                "audit": ("audit", "--cases", str(cases), "--out", str(d / "out")),
                "thresholds_check": ("thresholds", "check", str(b.thresholds), "--cases", str(cases))}[command]
        return Input(argv, (str(f),), also=(field_name,))
    return Spec(f"case_file_{command}/{variant}", build)


def _history_db_spec(command: str, kind: str) -> Spec:
    """A history DB that is not usable: each command that opens one."""
    def build(b: Base, d: Path) -> Input:
        db = d / "history.sqlite"
        if kind == "not_sqlite":
            _write(db, b"this is a text file, not a database\n" * 10)
        elif kind == "other_schema":
            con = sqlite3.connect(db)
            con.execute("CREATE TABLE users (name TEXT)")
            con.commit()
            con.close()
        elif kind == "old_columns":
            con = sqlite3.connect(db)
            con.execute("CREATE TABLE runs (run_key TEXT)")
            con.execute("CREATE TABLE measurements (run_key TEXT)")
            con.commit()
            con.close()
        elif kind == "truncated_sqlite":
            _write(db, b.history.read_bytes()[:200])
        else:
            db = special_file(kind, db)
        argv = {"history_import": ("history", "import", "--db", str(db), str(b.results)),
                "audit": ("audit", "--cases", str(b.cases), "--history", str(db), "--out",
                          str(d / "out")),
                "compare": b.compare(d / "out", "--history", str(db))}[command]
        return Input(argv, (str(db),), subprocess=sub)
    sub = kind == "fifo" and command == "history_import"
    return Spec(f"history_db_{command}/{kind}", build, subprocess=sub)


def _option_specs() -> list[Spec]:
    """Bad options and unwritable outputs, command by command."""
    specs: list[Spec] = []

    def add(sid: str, fn: Callable[[Base, Path], Input]) -> None:
        specs.append(Spec(sid, fn))

    def out_is_file(b: Base, d: Path) -> Path:
        return _write(d / "out", b"a file where a folder belongs\n")

    def results_dir(b: Base, d: Path) -> Path:
        (d / "out" / "results.json").mkdir(parents=True)
        return d / "out"

    # compare
    add("compare/device_bogus", lambda b, d: Input(b.compare(d / "out", "--device", "bogus"), ("--device",)))
    add("compare/device_cuda_index", lambda b, d: Input(b.compare(d / "out", "--device", "cuda:99"), ("--device",)))
    add("compare/device_empty", lambda b, d: Input(b.compare(d / "out", "--device", ""), ("--device",)))
    add("compare/out_is_file", lambda b, d: Input(b.compare(out_is_file(b, d)), (str(d / "out"),)))
    add("compare/results_json_is_dir", lambda b, d: Input(b.compare(results_dir(b, d)), ("results.json",)))
    add("compare/summary_is_dir", lambda b, d: (_mk(d / "out" / "summary.md"),
                                                Input(b.compare(d / "out"), ("summary.md",)))[1])
    add("compare/frames_is_file", lambda b, d: (_write(d / "out" / "frames", b"x"),
                                                Input(b.compare(d / "out"), ("frames",)))[1])
    add("compare/platform_path", lambda b, d: Input(b.compare(d / "out", "--platform", "../../x"), ("platform", "../../x")))
    add("compare/platform_unknown", lambda b, d: Input(b.compare(d / "out", "--platform", "nosuchgpu"), ("nosuchgpu",)))
    add("compare/case_path", lambda b, d: Input(b.compare(d / "out", "--case", "../x", group=False), ("../x",)))
    add("compare/case_unknown", lambda b, d: Input(b.compare(d / "out", "--case", "nope", group=False), ("nope",)))
    add("compare/group_unknown", lambda b, d: Input(("compare", "--cases", str(b.cases), "--group", "nogroup", "--gt", str(b.gt), "--candidate", str(b.cand), "--out", str(d / "out")), ("nogroup",)))
    add("compare/gt_missing", lambda b, d: Input(b.compare(d / "out", gt=d / "nogt"), (str(d / "nogt"),)))
    add("compare/gt_missing_git", lambda b, d: Input(b.compare(d / "out", "--ref", SHA, gt=d / "nogt.git"), (str(d / "nogt.git"),)))
    add("compare/gt_git_no_ref", lambda b, d: Input(b.compare(d / "out", "--gt-source", "git"), ("--ref",)))
    add("compare/candidate_missing", lambda b, d: Input(b.compare(d / "out", cand=d / "nocand"), (str(d / "nocand"),)))
    add("compare/missing_required", lambda b, d: Input(("compare", "--gt", str(b.gt)), ("--candidate",)))
    add("compare/frames_bogus", lambda b, d: Input(b.compare(d / "out", "--frames", "some"), ("--frames",)))
    add("compare/thresholds_missing", lambda b, d: Input(b.compare(d / "out", "--thresholds", str(d / "no.json")), (str(d / "no.json"),)))
    add("compare/candidate_garbage_png", _garbage_candidate)
    add("compare/candidate_empty_mp4", _empty_mp4_candidate)
    for side in ("gt", "cand"):
        for what in ("png_10e10_pixels", "png_wrong_size", "png_truncated", "png_empty", "png_is_dir",
                     *(("mp4_header_only",) if side == "cand" else ())):
            specs.append(Spec(f"compare/{side}_{what}", _media(side, what)))
    # generate / controls
    gen = lambda b, d, *x: ("generate", "--cases", str(b.cases), "--case", OFFICIAL, "--group", GROUP, "--out", str(d / "out"), *x)  # noqa: E731
    ctl = lambda b, d, *x: ("controls", "--cases", str(b.cases), "--group", GROUP, "--out", str(d / "out"), *x)  # noqa: E731
    add("generate/device_bogus", lambda b, d: Input(gen(b, d, "--device", "bogus"), ("--device",)))
    add("generate/device_cuda_bad_index", lambda b, d: Input(gen(b, d, "--device", "cuda:x"), ("--device",)))
    add("generate/device_mps", lambda b, d: Input(gen(b, d, "--device", "mps"), ("--device",)))
    add("generate/out_is_file", lambda b, d: (out_is_file(b, d), Input(gen(b, d), (str(d / "out"),)))[1])
    add("generate/manifest_is_dir", lambda b, d: (_mk(d / "out" / "manifest.json"), Input(gen(b, d), ("manifest.json",)))[1])
    add("generate/case_unknown", lambda b, d: Input(("generate", "--cases", str(b.cases), "--group", GROUP, "--case", "nope", "--out", str(d / "out")), ("nope",)))
    add("generate/profile_bogus", lambda b, d: Input(gen(b, d, "--profile", "huge"), ("--profile",)))
    add("controls/device_bogus", lambda b, d: Input(ctl(b, d, "--device", "bogus"), ("--device",)))
    add("controls/second_device_bogus", lambda b, d: Input(ctl(b, d, "--second-device", "tpu"), ("--second-device",)))
    add("controls/out_is_file", lambda b, d: (out_is_file(b, d), Input(ctl(b, d), (str(d / "out"),)))[1])
    add("controls/group_unknown", lambda b, d: Input(("controls", "--cases", str(b.cases), "--group", "nogroup", "--out", str(d / "out")), ("nogroup",)))
    # publish
    pub = lambda b, d, src, *x: ("publish", "--source", str(src), "--target", "sglang_generated", "--repo", str(b.repo), "--cases", str(b.cases), "--group", GROUP, *x)  # noqa: E731
    add("publish/source_missing", lambda b, d: Input(pub(b, d, d / "nosrc"), (str(d / "nosrc"),)))
    add("publish/source_is_file", lambda b, d: Input(pub(b, d, _write(d / "src", b"x")), (str(d / "src"),)))
    add("publish/source_no_manifest", lambda b, d: Input(pub(b, d, b.gt, "--check-only"), ("manifest.json",)))
    add("publish/repo_missing", lambda b, d: Input(("publish", "--source", str(b.gt), "--target", "sglang_generated", "--repo", str(d / "norepo"), "--cases", str(b.cases), "--group", GROUP), (str(d / "norepo"),)))
    add("publish/platform_path", lambda b, d: Input(pub(b, d, b.gt, "--platform", "../../x"), ("../../x",)))
    add("publish/platform_sibling", lambda b, d: Input(pub(b, d, b.gt, "--platform", "../x"), ("../x",)))
    add("publish/platform_absolute", lambda b, d: Input(pub(b, d, b.gt, "--platform", "/etc"), ("/etc",)))
    add("publish/target_bogus", lambda b, d: Input(("publish", "--source", str(b.gt), "--target", "mine", "--repo", str(b.repo)), ("--target",)))
    add("publish/attempts_zero", lambda b, d: Input(pub(b, d, b.gt, "--attempts", "0"), ("--attempts",)))
    add("publish/case_path", lambda b, d: Input(("publish", "--source", str(b.gt), "--target", "sglang_generated", "--repo", str(b.repo), "--cases", str(b.cases), "--case", "../../x"), ("../../x",)))
    # fetch
    fet = lambda b, d, src, *x: ("fetch", "--cases", str(b.cases), "--group", GROUP, "--source", str(src), "--out", str(d / "out"), *x)  # noqa: E731
    add("fetch/source_missing", lambda b, d: Input(fet(b, d, d / "nosrc"), (str(d / "nosrc"),)))
    add("fetch/source_missing_git_ref", lambda b, d: Input(fet(b, d, d / "nosrc.git", "--ref", SHA), (str(d / "nosrc.git"),)))
    add("fetch/source_git_no_ref", lambda b, d: Input(fet(b, d, b.repo), ("--ref",)))
    add("fetch/source_git_bad_ref", lambda b, d: Input(fet(b, d, b.repo, "--ref", SHA), (SHA, str(b.repo))))
    add("fetch/out_is_file", lambda b, d: (out_is_file(b, d), Input(fet(b, d, b.gt), (str(d / "out"),)))[1])
    add("fetch/platform_path", lambda b, d: Input(fet(b, d, b.gt, "--platform", "../../x"), ("../../x",)))
    add("fetch/source_kind_bogus", lambda b, d: Input(fet(b, d, b.gt, "--source-kind", "ftp"), ("--source-kind",)))
    # candidates
    cnd = lambda b, d, *x: ("candidates", "--cases", str(b.cases), "--group", GROUP, *x)  # noqa: E731
    add("candidates/server_not_url", lambda b, d: Input(cnd(b, d, "--server", "localhost:1", "--out", str(d / "out")), ("--server",)))
    add("candidates/server_ftp", lambda b, d: Input(cnd(b, d, "--server", "ftp://127.0.0.1/", "--out", str(d / "out")), ("--server",)))
    add("candidates/server_down", lambda b, d: Input(cnd(b, d, "--server", f"http://127.0.0.1:{_closed_port()}", "--out", str(d / "out"), "--timeout", "2"), ("127.0.0.1",)))
    add("candidates/timeout_nan", lambda b, d: Input(cnd(b, d, "--server", "http://127.0.0.1:1", "--out", str(d / "out"), "--timeout", "nan"), ("--timeout",)))
    add("candidates/timeout_negative", lambda b, d: Input(cnd(b, d, "--server", "http://127.0.0.1:1", "--out", str(d / "out"), "--timeout", "-1"), ("--timeout",)))
    add("candidates/out_is_file", lambda b, d: (out_is_file(b, d), Input(cnd(b, d, "--server", "http://127.0.0.1:1", "--out", str(d / "out")), (str(d / "out"),)))[1])
    add("candidates/no_server", lambda b, d: Input(cnd(b, d, "--out", str(d / "out")), ("--server",)))
    # audit
    aud = lambda b, d, *x: ("audit", "--cases", str(b.cases), *x)  # noqa: E731
    add("audit/out_is_file", lambda b, d: (out_is_file(b, d), Input(aud(b, d, "--out", str(d / "out")), (str(d / "out"),)))[1])
    add("audit/audit_json_is_dir", lambda b, d: (_mk(d / "out" / "audit.json"), Input(aud(b, d, "--out", str(d / "out")), ("audit.json",)))[1])
    add("audit/proposal_is_dir", lambda b, d: (_mk(d / "prop.json"), Input(aud(b, d, "--write-proposal", str(d / "prop.json")), (str(d / "prop.json"),)))[1])
    add("audit/proposal_is_live", lambda b, d: Input(aud(b, d, "--thresholds", str(b.thresholds), "--write-proposal", str(b.thresholds)), (str(b.thresholds),)))
    add("audit/history_missing", lambda b, d: Input(aud(b, d, "--history", str(d / "none.sqlite")), (str(d / "none.sqlite"),)))
    add("audit/last_zero", lambda b, d: Input(aud(b, d, "--history", str(b.history), "--last", "0"), ("--last",)))
    add("audit/controls_missing", lambda b, d: Input(aud(b, d, "--controls", str(d / "nodir")), ("nodir",)))
    add("audit/controls_cases_list", lambda b, d: Input(aud(b, d, "--controls", str(_write(d / "c.json", b'{"cases": []}'))), (str(d / "c.json"),)))
    add("audit/controls_value_string", lambda b, d: Input(aud(b, d, "--controls", str(_write(d / "c.json", json.dumps({"cases": {VIDEO: {"negative_seed": {"ssim": "low"}}}}).encode()))), (str(d / "c.json"),)))
    add("audit/platform_path", lambda b, d: Input(aud(b, d, "--platform", "../../x"), ("../../x",)))
    add("audit/fail_on_bogus", lambda b, d: Input(aud(b, d, "--fail-on", "panic"), ("--fail-on",)))
    # report
    add("report/html_is_file", lambda b, d: Input(("report", str(b.results), "--html", str(_write(d / "html", b"x"))), (str(d / "html"),)))
    add("report/index_is_dir", lambda b, d: (_mk(d / "html" / "index.html"), Input(("report", str(b.results), "--html", str(d / "html")), ("index.html",)))[1])
    add("report/frame_symlink_outside", _report_symlink_escape)
    add("report/frame_not_png", _report_frame_not_png)
    add("report/audit_findings_dict", lambda b, d: Input(("report", str(b.results), "--audit", str(_write(d / "a.json", b'{"findings": {}}')), "--html", str(d / "html")), (str(d / "a.json"),)))
    add("report/audit_finding_severity", lambda b, d: Input(("report", str(b.results), "--audit", str(_write(d / "a.json", json.dumps({"findings": [{"severity": "doom", "case_id": VIDEO, "kind": "k", "message": "m"}]}).encode())), "--html", str(d / "html")), (str(d / "a.json"),)))
    add("report/audit_finding_missing_key", lambda b, d: Input(("report", str(b.results), "--audit", str(_write(d / "a.json", json.dumps({"findings": [{"severity": "error"}]}).encode())), "--html", str(d / "html")), (str(d / "a.json"),)))
    # history import
    add("history_import/one_bad_of_two", lambda b, d: Input(("history", "import", "--db", str(d / "h.sqlite"), str(b.results), str(_write(d / "bad.json", BAD_RESULTS["metric_string"]))), (str(d / "bad.json"),)))
    add("history_import/db_parent_is_file", lambda b, d: Input(("history", "import", "--db", str(_write(d / "f", b"x") / "h.sqlite"), str(b.results)), (str(d / "f"),)))
    add("history_import/no_files", lambda b, d: Input(("history", "import", "--db", str(d / "h.sqlite")), ("results",)))
    # thresholds check / cases / matrix
    add("thresholds_check/platform_path", lambda b, d: Input(("thresholds", "check", str(b.thresholds), "--platform", "../../x", "--cases", str(b.cases)), ("../../x",)))
    add("thresholds_check/cases_dir_missing", lambda b, d: Input(("thresholds", "check", str(b.thresholds), "--cases", str(d / "nocases")), (str(d / "nocases"),)))
    add("cases_list/cases_dir_missing", lambda b, d: Input(("cases", "list", "--cases", str(d / "nocases")), (str(d / "nocases"),)))
    add("cases_list/cases_dir_is_file", lambda b, d: Input(("cases", "list", "--cases", str(_write(d / "cases", b"x"))), (str(d / "cases"),)))
    add("cases_list/group_unknown", lambda b, d: Input(("cases", "list", "--cases", str(b.cases), "--group", "nogroup"), ("nogroup",)))
    add("cases_list/case_file_is_dir", lambda b, d: (_mk(d / "cases" / "g.toml"), Input(("cases", "list", "--cases", str(d / "cases")), ("g.toml",)))[1])
    add("cases_list/group_name_bad", lambda b, d: (_write(d / "cases" / "bad group.toml", _case()), Input(("cases", "list", "--cases", str(d / "cases")), ("bad group",)))[1])
    add("matrix/max_jobs_negative", lambda b, d: Input(("cases", "matrix", "--cases", str(b.cases), "--group", GROUP, "--max-jobs", "-1"), ("--max-jobs",)))
    add("matrix/max_jobs_text", lambda b, d: Input(("cases", "matrix", "--cases", str(b.cases), "--group", GROUP, "--max-jobs", "many"), ("--max-jobs",)))
    add("matrix/case_path", lambda b, d: Input(("cases", "matrix", "--cases", str(b.cases), "--group", GROUP, "--case", "../x"), ("../x",)))
    add("cli/unknown_command", lambda b, d: Input(("frobnicate",), ("frobnicate",)))
    add("cli/debug_keeps_exit_2", lambda b, d: Input(("--debug", "cases", "list", "--cases", str(d / "nocases")), (str(d / "nocases"),)))
    return specs


def _case_fifo(b: Base, d: Path) -> Input:
    f = special_file("fifo", d / "cases" / "g.toml")
    return Input(("cases", "list", "--cases", str(d / "cases")), (str(f),), subprocess=True)


def _mk(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _png_declaring(w: int, h: int) -> bytes:
    """A PNG whose header declares ``w``x``h`` pixels (a decompression bomb by its header)."""
    import struct
    import zlib

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def _media(side: str, what: str) -> Callable[[Base, Path], Input]:
    """A bad image or video on the GT or the candidate side of a one-case compare."""
    def build(b: Base, d: Path) -> Input:
        gt, cand = d / "gt", d / "cand"
        shutil.copytree(b.gt, gt)
        shutil.copytree(b.cand, cand)
        folder = gt if side == "gt" else cand
        case = VIDEO if what.startswith("mp4") else IMAGE
        if case == VIDEO:
            for p in folder.glob(f"{VIDEO}_*"):
                p.unlink()
            f = _write(folder / f"{VIDEO}_1gpu.mp4", b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64)
        else:
            f = folder / f"{IMAGE}_1gpu.png"
            f.unlink()
            if what == "png_10e10_pixels":
                _write(f, _png_declaring(100_000, 100_000))
            elif what == "png_wrong_size":
                _png(f, h=32, w=32)
            elif what == "png_truncated":
                _write(f, (b.gt / f"{IMAGE}_1gpu.png").read_bytes()[:60])
            elif what == "png_empty":
                _write(f, b"")
            else:
                f.mkdir()
        extra = ("--frames", "all") if case == VIDEO else ()
        argv = ("compare", "--cases", str(b.cases), "--case", case, "--gt", str(gt), "--candidate",
                str(cand), "--out", str(d / "out"), "--clip-model", "none", *extra)
        return Input(argv, (f.name, case), (1, 2))
    return build


def _garbage_candidate(b: Base, d: Path) -> Input:
    cand = d / "cand"
    shutil.copytree(b.cand, cand)
    f = _write(cand / f"{IMAGE}_1gpu.png", b"\x89PNG\r\n\x1a\n garbage, not a PNG")
    argv = ("compare", "--cases", str(b.cases), "--case", IMAGE, "--gt", str(b.gt), "--candidate",
            str(cand), "--out", str(d / "out"), "--clip-model", "none")
    return Input(argv, (str(f), IMAGE), (1, 2))


def _empty_mp4_candidate(b: Base, d: Path) -> Input:
    cand = d / "cand"
    cand.mkdir()
    f = _write(cand / f"{VIDEO}_1gpu.mp4", b"")
    argv = ("compare", "--cases", str(b.cases), "--case", VIDEO, "--gt", str(b.gt), "--candidate",
            str(cand), "--out", str(d / "out"), "--clip-model", "none")
    return Input(argv, (str(f), VIDEO), (1, 2))


def _report_symlink_escape(b: Base, d: Path) -> Input:
    res = d / "res"
    shutil.copytree(b.results.parent, res)
    secret = _png(d / "outside" / "secret.png")
    (res / "frames").mkdir()
    (res / "frames" / f"{VIDEO}.png").symlink_to(secret)
    return Input(("report", str(res / "results.json"), "--html", str(d / "html")), (VIDEO, "results.json"))


def _report_frame_not_png(b: Base, d: Path) -> Input:
    res = d / "res"
    shutil.copytree(b.results.parent, res)
    _write(res / "frames" / f"{VIDEO}.png", b"hostname-like text, not an image\n")
    return Input(("report", str(res / "results.json"), "--html", str(d / "html")), (VIDEO, "results.json"))


def specs() -> list[Spec]:
    """Every bad input of the corpus (ids unique and stable)."""
    out: list[Spec] = []
    for reader in JSON_READERS:
        out += [_json_spec(reader, v) for v in BAD_JSON]
        out += [_special_spec(reader, k) for k in SPECIAL]
    for reader in JSON_IN_FOLDERS:
        out += [_folder_json_spec(reader, v) for v in ("truncated", "dup_keys", "nan", "deep_100k",
                                                       "array_top", "not_utf8")]
    for reader in ("report_results", "history_import"):
        out += [_results_spec(reader, v) for v in BAD_RESULTS]
    for variant in BAD_CASES:
        out.append(_case_spec("cases_list", variant))
    out.append(Spec("case_file_cases_list/fifo", _case_fifo, subprocess=True))
    for command in ("generate", "compare", "matrix", "audit", "thresholds_check"):
        out += [_case_spec(command, v) for v in ("fps_nan", "frames_1e9", "id_path", "malformed_toml")]
    for command in ("history_import", "audit", "compare"):
        out += [_history_db_spec(command, k) for k in ("not_sqlite", "other_schema", "old_columns",
                                                       "truncated_sqlite", "directory", "fifo")]
    out += _option_specs()
    ids = [s.id for s in out]
    assert len(ids) == len(set(ids)), "corpus ids must be unique"
    return out
