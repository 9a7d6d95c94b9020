"""Pin a group's hub revisions to commits, in the case file itself.

Why: GT is only reproducible from weights at a fixed commit, and `main` on the hub moves.
A maintainer with hub access runs ``gt-gen cases pin --group ltx`` once; every ``revision``
and ``text_encoder_revision`` of the selected cases is resolved to the 40-hex commit the hub
reports for it, and written back into ``cases/<group>.toml`` by rewriting only those value
lines, so comments and layout survive the edit and the diff shows exactly what moved.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from gt_gen.atomic import write_bytes
from gt_gen.cases import Case, parse_case
from gt_gen.errors import ConfigError, NetworkError
from gt_gen.gitutil import COMMIT_RE
from gt_gen.redact import redact

_ID = re.compile(r'^\s*id\s*=\s*"(?P<id>[^"]*)"\s*$')
_TABLE = re.compile(r"^\s*\[\[?\s*(?P<name>[A-Za-z0-9_.]+)\s*\]\]?\s*$")
_REV = re.compile(r'^(?P<head>\s*(?P<key>revision|text_encoder_revision)\s*=\s*)"(?P<val>[^"]*)"(?P<tail>\s*(#.*)?)$')

#: (repo, revision) -> commit
Resolver = Callable[[str, str], str]


def hub_resolver() -> Resolver:
    """Ask the hub (``huggingface_hub``; token from ``HF_TOKEN``) for a revision's commit."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise NetworkError("HF_HUB_OFFLINE is set: pinning asks the hub which commit each "
                           "revision names; unset it (and set HF_TOKEN for gated repos)")
    from huggingface_hub import HfApi

    api = HfApi(token=os.environ.get("HF_TOKEN") or None)

    def resolve(repo: str, revision: str) -> str:
        try:
            sha = api.model_info(repo, revision=revision).sha
        except Exception as exc:  # requests / hub errors: one line, token never shown
            raise NetworkError(f"cannot resolve {repo}@{revision} on the hub ({type(exc).__name__}: "
                               f"{redact(' '.join(str(exc).split()))[:200]})") from exc
        if not sha or not COMMIT_RE.match(sha):
            raise NetworkError(f"the hub gave no commit for {repo}@{revision} (got {sha!r})")
        return sha
    return resolve


def wanted(cases: list[Case]) -> dict[tuple[str, str], str]:
    """(case id, key) -> repo, for every unpinned hub revision of ``cases`` (tiny skipped)."""
    out: dict[tuple[str, str], str] = {}
    for c in cases:
        if c.model.is_tiny:
            continue
        if not COMMIT_RE.match(c.model.revision):
            out[(c.id, "revision")] = c.model.repo
        if c.model.text_encoder_repo and not COMMIT_RE.match(c.model.text_encoder_revision):
            out[(c.id, "text_encoder_revision")] = c.model.text_encoder_repo
    return out


def rewrite(text: str, pins: dict[tuple[str, str], str]) -> tuple[str, int]:
    """``text`` with the ``[case.model]`` revision lines of ``pins`` replaced; and the count."""
    lines = text.splitlines(keepends=True)
    case_id: str | None = None
    table, done = "", 0
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        if (m := _TABLE.match(body)):
            table = m.group("name")
            if table == "case":
                case_id = None
            continue
        if table == "case" and (m := _ID.match(body)):
            case_id = m.group("id")
        elif table == "case.model" and case_id is not None and (m := _REV.match(body)) \
                and (case_id, m.group("key")) in pins:
            sha = pins[(case_id, m.group("key"))]
            lines[i] = f'{m.group("head")}"{sha}"{m.group("tail")}' + line[len(body):]
            done += 1
    return "".join(lines), done


def _parse_text(text: str, path: Path) -> list[Case]:
    import tomllib

    return [parse_case(raw, group=path.stem, path=path) for raw in tomllib.loads(text).get("case", [])]


def pin_file(path: Path, cases: list[Case], resolve: Resolver, *, dry_run: bool = False) -> dict[tuple[str, str], str]:
    """Resolve and write the pins of ``cases`` (all from ``path``); returns what was pinned."""
    need = wanted(cases)
    memo: dict[tuple[str, str], str] = {}
    pins: dict[tuple[str, str], str] = {}
    by_id = {c.id: c for c in cases}
    for (cid, key), repo in need.items():
        rev = by_id[cid].model.revision if key == "revision" else by_id[cid].model.text_encoder_revision
        if (repo, rev) not in memo:
            memo[(repo, rev)] = resolve(repo, rev)
        pins[(cid, key)] = memo[(repo, rev)]
    if not pins or dry_run:
        return pins
    text, done = rewrite(path.read_text(encoding="utf-8"), pins)
    if done != len(pins):
        raise ConfigError(f"could rewrite only {done} of {len(pins)} revision lines; write "
                          'them one per line as `revision = "..."` inside [case.model]', path=path)
    reloaded = {c.id: c for c in _parse_text(text, path)}  # must load, with exactly our pins
    for (cid, key), sha in pins.items():
        got = reloaded[cid].model.revision if key == "revision" else reloaded[cid].model.text_encoder_revision
        if got != sha:
            raise ConfigError(f"pinning {cid} {key} did not take; file left unchanged", path=path)
    write_bytes(path, text.encode("utf-8"))
    return pins
