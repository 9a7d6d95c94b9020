"""How far the engine is from the official implementation, from what a ci-data commit holds.

sglang's ci-data keeps, for many cases, both the official GT (``official_generated/``) and
the engine's own GT (``sglang_generated/[<platform>/]``), under the same file names
(``{case}_{n}gpu_frame_{0|mid|last}.png``, ``{case}_{n}gpu.{jpg|png|webp}``). Comparing the
two with the gate's own metrics says, beside each gate, how far the real engine is from the
official code -- evidence the gates are otherwise set without:

* a gate that *fails* the engine's own GT is too tight for the real engine, or the engine is
  wrong (sglang's ``ltx_2.3_two_stage_t2v_2gpus`` is at SSIM 0.47 against the official GT);
* a gate the engine passes only by run-to-run noise will flake (FLUX.1: SSIM 0.95 against a
  0.95 gate);
* a gate passed with a wide margin, or passed by an engine as far from the official code as
  another seed would be (LTX-2.0: SSIM 0.15; a gate lowered to 0.45 for LTX-2.3 two-stage),
  cannot catch an engine that is wrong.

Everything is read as ``fetch`` / ``compare`` read GT: at a pinned commit, through
:class:`~gt_gen.store.integrity.Verifier` (a manifest mismatch is exit 2; a folder without one
is marked unverified, refused where the source looks published by gt-gen or with
``--require-manifest``; GT whose state is unknown is never measured and never a pass), decoded
as sglang decodes GT images, scored by :func:`gt_gen.compare.evaluate_case` against the gates
resolved for the platform exactly as ``compare`` resolves them.

Which cases: with a source that can list its tree (git, a directory) every case whose files
lie in both folders, found by name; otherwise (raw HTTP) the official ``case_map.json``'s
entries and the registry's cases. Whether the official ``case_map.json`` lists a case is
reported: an unlisted case is not compared with the official GT by sglang's CI at all (its
gate holds the engine to its own GT), so its findings are warnings, not errors.
"""

from __future__ import annotations

import dataclasses
import posixpath
from dataclasses import dataclass, field
from typing import Any

from gt_gen.audit import FLAKE_MARGIN, Audit, Finding
from gt_gen.cases import Case, ModelSpec, Request
from gt_gen.errors import InputFileError
from gt_gen.naming import image_names, key_frame_names, parse_gt_name
from gt_gen.store.layout import CASE_MAP, TARGETS, folder, parse_case_map
from gt_gen.store.source import GtSource, Presence
from gt_gen.thresholds import HIGHER_IS_BETTER, METRICS, Thresholds

OFFICIAL, ENGINE = TARGETS
#: A gate passed by more than this is too loose to catch a regression of that size.
LOOSE_MARGIN = {"ssim": 0.05, "psnr": 6.0, "mean_abs_diff": 4.0, "clip": 0.05}
#: An engine this far from the official GT (or farther) is as far as a wrong one: a gate that
#: passes it cannot tell a correct engine from a broken one. (The tiny profile's seed+1
#: negative control scores SSIM <= 0.6; real models' other seeds score lower still.)
FAR = {"ssim": 0.80, "psnr": 20.0, "mean_abs_diff": 15.0, "clip": 0.85}
DISTANCE_RULE = (f"fails: the engine's own GT fails the gate against the official GT; edge: passes "
                 f"by less than {FLAKE_MARGIN}; loose: passes by more than {LOOSE_MARGIN}; far: "
                 f"passes although SSIM < {FAR['ssim']}, PSNR < {FAR['psnr']} dB, MAD > "
                 f"{FAR['mean_abs_diff']} or CLIP < {FAR['clip']}")

@dataclass(frozen=True)
class Named:
    """A case as its file names give it: id, GPU count (a name only) and modality."""

    id: str
    gpus: int
    modality: str


def parse_name(name: str) -> Named | None:
    """The case a ci-data file name belongs to (``None``: not a GT image/key frame name)."""
    parsed = parse_gt_name(name)
    return Named(*parsed) if parsed else None


def probe_case(named: Named, registry: dict[str, Case]) -> Case:
    """A :class:`Case` to score ``named`` with: the registry's own when it has the id (with the
    files' GPU count and modality, which decide the names), else a bare one."""
    known = registry.get(named.id)
    if known is not None and known.modality == named.modality:
        return dataclasses.replace(known, gpus=named.gpus)
    keys = ("first", "mid", "last") if named.modality == "video" else ("first",)
    return Case(id=named.id, group="ci-data", modality=named.modality, backend="ci-data",
                pipeline="native", model=ModelSpec(repo="ci-data", revision="", checkpoint=""),
                request=Request(prompt="", width=0, height=0, seed=0), gpus=named.gpus,
                runner="", comparability="unknown", key_frames=keys)


def listing(source: GtSource, fold: str) -> list[str] | None:
    """File names directly inside ``fold`` at the source's commit, or ``None`` when the source
    cannot list (raw HTTP): then the case maps and the registry name the cases."""
    from pathlib import Path

    from gt_gen.store.git_source import GitSource
    from gt_gen.store.source import LocalDirSource

    if isinstance(source, GitSource):
        from gt_gen import gitutil

        text = gitutil.out("ls-tree", "--name-only", source.commit, f"{fold}/", cwd=source.mirror)
        return [posixpath.basename(p) for p in text.splitlines()]
    if isinstance(source, LocalDirSource):
        d = Path(source.root) / fold
        return sorted(p.name for p in d.iterdir() if p.is_file()) if d.is_dir() else []
    return None


def _case_map(source: GtSource, fold: str) -> dict[str, list[str]] | None:
    """``fold``'s case_map.json (``None``: there is none). Unknown raises: never guessed."""
    from gt_gen.store.integrity import GtUnknownError

    rel = f"{fold}/{CASE_MAP}"
    p = source.probe(rel)
    if p is Presence.UNKNOWN:
        raise GtUnknownError(f"whether {rel} exists is unknown (network trouble); the cases it "
                             "lists cannot be told", path=rel)
    return None if p is Presence.MISSING else parse_case_map(source.read_bytes(rel), rel)


def folders(target: str, platform: str | None) -> list[str]:
    """A target's folders in lookup order: the platform subfolder first, then the default."""
    return [folder(target, p) for p in ([platform] if platform else []) + [None]]


def discover(source: GtSource, platform: str | None, registry: list[Case]
             ) -> tuple[list[Case], set[str]]:
    """The cases to look for, and the ids the official case maps list."""
    listed: set[str] = set()
    named: dict[tuple[str, int, str], Named] = {}
    official = folders(OFFICIAL, platform)
    for fold in official:
        cmap = _case_map(source, fold)
        for cid, outputs in (cmap or {}).items():
            listed.add(cid)
            for name in outputs:
                n = parse_name(name)
                if n is not None and n.id == cid:
                    named.setdefault((n.id, n.gpus, n.modality), n)
    names = [listing(source, fold) for fold in official]
    if all(n is not None for n in names):
        for n in (parse_name(x) for got in names for x in got or []):
            if n is not None:
                named.setdefault((n.id, n.gpus, n.modality), n)
    else:  # no listing: the registry's cases are looked for too
        for c in registry:
            named.setdefault((c.id, c.gpus, c.modality), Named(c.id, c.gpus, c.modality))
    by_id = {c.id: c for c in registry}
    return [probe_case(n, by_id) for _, n in sorted(named.items())], listed


def find(source: GtSource, target: str, platform: str | None, case: Case
         ) -> tuple[Presence, str | None, dict[str, str]]:
    """The folder of ``target`` holding every file of ``case`` (platform subfolder first; a
    video only where all its key frames are; an image as sglang looks it up: jpg, png, webp)."""
    for fold in folders(target, platform):
        if case.modality == "video":
            wanted = {k: f"{fold}/{n}" for k, n in key_frame_names(case).items()}
            got = [source.probe(p) for p in wanted.values()]
            if Presence.UNKNOWN in got:
                return Presence.UNKNOWN, fold, {}
            if all(g is Presence.PRESENT for g in got):
                return Presence.PRESENT, fold, wanted
            continue
        for name in image_names(case):
            o = source.probe(f"{fold}/{name}")
            if o is Presence.UNKNOWN:
                return Presence.UNKNOWN, fold, {}
            if o is Presence.PRESENT:
                return Presence.PRESENT, fold, {"first": f"{fold}/{name}"}
    return Presence.MISSING, None, {}


def read_frames(reader: Any, files: dict[str, str]) -> Any:
    """Every file verified first (tampering is never a decode failure), then decoded as sglang
    decodes GT images (PIL, ``.convert("RGB")``)."""
    from gt_gen import frames as fr

    blobs = {k: reader.read(rel) for k, rel in files.items()}
    out = fr.FrameSet(sources=dict(files))
    for k, data in blobs.items():
        out[k], out.modes[k] = fr.decode_image_with_mode(data, files[k])
    return out


def margin(metric: str, value: float, gate: float) -> float:
    """How far ``value`` passes ``gate`` by (negative: it fails)."""
    return value - gate if HIGHER_IS_BETTER[metric] else gate - value


def _far(metric: str, value: float) -> bool:
    return value < FAR[metric] if HIGHER_IS_BETTER[metric] else value > FAR[metric]


def classify(metric: str, value: float, gate: float) -> str:
    """``fails`` / ``edge`` / ``far`` / ``loose`` / ``ok`` (see :data:`DISTANCE_RULE`)."""
    import math

    if math.isnan(value):
        return "fails"
    m = margin(metric, value, gate)
    if m < 0:
        return "fails"
    if m < FLAKE_MARGIN[metric]:
        return "edge"
    if _far(metric, value):
        return "far"
    return "loose" if m > LOOSE_MARGIN[metric] else "ok"


_WHY = {
    "fails": "the engine's own GT fails this gate against the official GT: the gate is too tight "
             "for the real engine, or the engine is wrong",
    "edge": "the engine's own GT passes by less than run-to-run noise: the gate will flake",
    "far": "the gate passes an engine this far from the official implementation: it cannot tell "
           "this engine from a wrong one",
    "loose": "the gate passes the engine's own GT with a wide margin: a regression up to that "
             "size would pass",
}


@dataclass
class Row:
    """One case of the engine-vs-official table (``status``: compared, error or unknown)."""

    case_id: str
    modality: str
    gpus: int
    official_case_map: bool
    status: str
    official_folder: str | None = None
    engine_folder: str | None = None
    files: dict[str, dict[str, str]] = field(default_factory=dict)
    verification: dict[str, str] = field(default_factory=dict)
    comparability: str = ""
    message: str = ""
    gates: dict[str, Any] = field(default_factory=dict)
    worst: dict[str, float | None] = field(default_factory=dict)
    margin: dict[str, float | None] = field(default_factory=dict)
    verdict: dict[str, str | None] = field(default_factory=dict)
    gate_verdict: str = ""  # what compare would say of the engine's own GT: passed / failed
    frames: list[dict[str, Any]] = field(default_factory=list)


def _findings(row: Row) -> list[Finding]:
    out: list[Finding] = []
    listed = row.official_case_map
    for m in METRICS:
        kind, v, g = row.verdict.get(m), row.worst.get(m), (row.gates.get(m) or {}).get("value")
        if kind in (None, "ok") or v is None or g is None:
            continue
        sev = "error" if kind == "fails" and listed else "warning"
        where = "" if listed else (" (not in the official case_map: sglang's CI holds this case "
                                   "to the engine's own GT, never to the official one)")
        out.append(Finding(row.case_id, "official_distance", sev,
                           f"engine vs official {m} {v:.4g} against gate {g:g} "
                           f"(margin {margin(m, v, g):+.4g}): {_WHY[kind]}{where}", m,
                           {"value": v, "gate": g, "margin": margin(m, v, g), "class": kind,
                            "official_case_map": listed}))
    return out


def measure(source: GtSource, thresholds: Thresholds, registry: list[Case], *,
            platform: str | None, ids: list[str] | None = None, require_manifest: bool | None = None,
            clip_model: str = "none", clip_revision: str | None = None, metrics_backend: str = "auto",
            device: str = "cpu") -> Audit:
    """The engine-vs-official audit of one ci-data commit (see the module docstring)."""
    from gt_gen.compare import CompareOptions, evaluate_case
    from gt_gen.metrics.clip import DEFAULT_CLIP_REVISION, ClipScorer
    from gt_gen.redact import redact
    from gt_gen.store.integrity import GtUnknownError, ManifestMissingError, Verifier
    from gt_gen.store.lookup import require_reachable

    cases, listed = discover(source, platform, registry)
    if not cases:  # an audit that measured nothing must not read as a clean one
        from gt_gen.errors import UsageError

        raise UsageError(f"--ci-data {redact(source.description)}: no GT of any known case in "
                         f"{' or '.join(folders(OFFICIAL, platform))}"
                         f"{f' at {source.commit}' if source.commit else ''}: not a ci-data checkout, or the wrong --ref / --platform; nothing to audit")
    if ids:
        unknown = sorted(set(ids) - {c.id for c in cases})
        if unknown:
            from gt_gen.errors import UsageError

            raise UsageError(f"--case {', '.join(unknown)}: no GT of that case in "
                             f"{' or '.join(folders(OFFICIAL, platform))} at {source.commit}")
        cases = [c for c in cases if c.id in ids]
    reader = Verifier(source, require_manifest=require_manifest, platform=platform)
    opts = CompareOptions(platform=platform, metrics_backend=metrics_backend, device=device)
    clip = ClipScorer(clip_model, clip_revision or DEFAULT_CLIP_REVISION, device=device)
    rows: list[Row] = []
    findings: list[Finding] = []
    official_only: list[str] = []
    unknown_details: list[str] = []
    for case in cases:
        where: dict[str, tuple[str | None, dict[str, str]]] = {}
        state: dict[str, Presence] = {}
        for target in TARGETS:  # the official GT first: without it the engine's is not probed
            state[target], fold, files = find(source, target, platform, case)
            where[target] = (fold, files)
            if state[target] is Presence.MISSING:
                break
        if Presence.MISSING in state.values() or len(state) < len(TARGETS):
            if state[OFFICIAL] is Presence.PRESENT and state[ENGINE] is Presence.MISSING:
                official_only.append(case.id)
            continue  # present in one folder only (or neither): nothing to measure
        row = Row(case.id, case.modality, case.gpus, case.id in listed, "compared",
                  official_folder=where[OFFICIAL][0], engine_folder=where[ENGINE][0],
                  files={t: dict(where[t][1]) for t in TARGETS},
                  comparability="" if case.backend == "ci-data" else case.comparability)
        rows.append(row)
        if Presence.UNKNOWN in state.values():
            row.status, row.message = "unknown", "GT presence unknown (network trouble): not measured, not passed"
            unknown_details.append(row.message)
            findings.append(Finding(case.id, "official_distance", "error", row.message))
            continue
        try:
            official = read_frames(reader, where[OFFICIAL][1])
            engine = read_frames(reader, where[ENGINE][1])
            res = evaluate_case(case, official, engine, thresholds, opts, clip)
        except GtUnknownError as exc:
            row.status, row.message = "unknown", f"{exc.one_line()}; not measured, not passed"
            unknown_details.append(row.message)
            findings.append(Finding(case.id, "official_distance", "error", row.message))
            continue
        except (ManifestMissingError, InputFileError) as exc:
            row.status, row.message = "error", exc.one_line()
            findings.append(Finding(case.id, "official_distance", "error",
                                    f"not measured: {exc.one_line()}"))
            continue
        row.verification = {t: reader.verification(list(where[t][1].values())) for t in TARGETS}
        row.gates, row.worst, row.gate_verdict = res.gates, dict(res.worst), res.status
        row.message = res.message
        row.frames = [{"frame": f.frame, "metrics": f.metrics} for f in res.frames]
        for m in METRICS:
            v, g = res.worst.get(m), res.gates[m]["value"]
            row.margin[m] = None if v is None else margin(m, v, g)
            row.verdict[m] = None if v is None else classify(m, v, g)
        findings += _findings(row)
    for cid in official_only:
        findings.append(Finding(cid, "official_distance", "info",
                                "official GT without the engine's own GT in "
                                f"{' or '.join(folders(ENGINE, platform))}: nothing to measure"))
    require_reachable(source, unknown_details, len(rows))
    meta = {"mode": "ci-data", "rule": DISTANCE_RULE, "flake_margin": FLAKE_MARGIN,
            "loose_margin": LOOSE_MARGIN, "far": FAR, "platform": platform,
            "thresholds": thresholds.describe(),
            "ci_data": {"source": redact(source.description), "commit": source.commit,
                        "official": folders(OFFICIAL, platform), "engine": folders(ENGINE, platform)},
            "clip": {"available": clip.status.available, "reason": clip.status.reason},
            "metrics_backend": metrics_backend}
    section = {"rule": DISTANCE_RULE, "cases": [dataclasses.asdict(r) for r in rows],
               "official_only": sorted(official_only)}
    return Audit(findings, {}, meta, engine_distance=section)
