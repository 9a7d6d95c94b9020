"""``gt-gen assets pin|list|verify``: local, pinned copies of the input images sglang sends by URL.

``pin`` (needs network, run once by a maintainer): download each unpinned URL input of the
selected cases, check it is a sane image, store it under ``cases/assets/`` and record it in
``cases/assets/assets.lock.json``; commit both. ``list`` shows each input as pinned, unpinned or
pinned in the case file (``local``). ``verify`` re-hashes every pinned file: a missing or
changed one is exit 2, naming it. Only cases whose GT gt-gen generates (official ones) need a
local copy; sglang-native cases' GT is sglang's own. See :mod:`gt_gen.assets` for the design.

Light at start-up: ``list`` and ``verify`` read TOML and JSON and hash files, nothing more
(``pin`` imports requests and PIL inside its ``run``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gt_gen.assets import ASSETS_DIRNAME, LOCK_NAME
from gt_gen.redact import redact


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cases", dest="cases_dir", default=None,
                   help="folder of <group>.toml case files (default: the cases shipped with gt-gen)")
    p.add_argument("--group", default=None, help="case group (file stem), or 'all' (default)")
    p.add_argument("--case", dest="case_ids", action="append", default=[],
                   help="case id (repeatable; narrows the group)")
    p.add_argument("--assets-dir", default=None,
                   help=f"folder of the pinned files and {LOCK_NAME} (default: the cases "
                        f"folder's {ASSETS_DIRNAME}/, which is where generation reads them)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("assets", help="pin, list and verify the input images sglang sends by URL")
    asub = p.add_subparsers(dest="assets_command", required=True)
    pp = asub.add_parser("pin", help="download unpinned URL inputs into cases/assets/ and record "
                                     "them in the lock (needs network)")
    _common(pp)
    pp.add_argument("--force", action="store_true",
                    help="download pinned URLs again (the lock changes only if the bytes did)")
    pp.add_argument("--dry-run", action="store_true", help="print what would be pinned; no network")
    pp.add_argument("--timeout", type=float, default=30.0,
                    help="seconds to connect and between bytes (default 30)")
    pp.add_argument("--attempts", type=int, default=4,
                    help="tries per URL on timeouts, resets and 5xx (default 4)")
    pp.add_argument("--max-bytes", type=int, default=None,
                    help="largest input accepted, in bytes (default and ceiling: 32 MiB)")
    pp.add_argument("--allow-redirect-host", action="append", default=[], metavar="HOST",
                    help="accept a redirect to this https host (repeatable; GitHub release "
                         "downloads to *.githubusercontent.com are accepted already)")
    pp.set_defaults(func=run_pin)
    lp = asub.add_parser("list", help="show each input image: pinned, unpinned or local")
    _common(lp)
    lp.set_defaults(func=run_list)
    vp = asub.add_parser("verify", help="re-hash every pinned input (exit 2 naming a changed or "
                                        "missing file)")
    _common(vp)
    vp.add_argument("--require-pinned", action="store_true",
                    help="also fail (exit 2) while an input is still unpinned")
    vp.set_defaults(func=run_verify)


def _select(args: argparse.Namespace) -> tuple[Any, list[Any], Path, list[str]]:
    """(registry, cases gt-gen generates GT for, assets folder, notes on what was left out)."""
    from gt_gen.cases import load_registry

    reg = load_registry(args.cases_dir)
    chosen = reg.select(group=args.group, ids=args.case_ids)
    cases = [c for c in chosen if c.is_official]
    notes = []
    skipped = [c.id for c in chosen if not c.is_official and _inputs(c)]
    if skipped and args.case_ids:
        notes.append(f"not official, so gt-gen makes no GT for it and its input needs no local "
                     f"copy: {', '.join(skipped)}")
    folder = Path(args.assets_dir) if args.assets_dir else Path(reg.root) / ASSETS_DIRNAME
    return reg, cases, folder, notes


def _inputs(case: Any) -> list[Any]:
    from gt_gen.assets.case_inputs import inputs_of

    return inputs_of(case)


def _pin_hint(cases: list[Any]) -> str:
    """The pin command for ``cases``: their one group, else every group."""
    groups = sorted({c.group for c in cases})
    return "gt-gen assets pin" + (f" --group {groups[0]}" if len(groups) == 1 else "")


def run_list(args: argparse.Namespace) -> int:
    from gt_gen.assets.lock import read_lock

    _, cases, folder, notes = _select(args)
    lock = read_lock(folder)
    rows = [("case", "input", "status", "source", "file")]
    unpinned: list[Any] = []
    for case in cases:
        for ref in _inputs(case):
            if ref.local:
                rows.append((case.id, ref.field, "local", ref.path, ref.sha256[:12]))
            elif ref.url in lock.pins:
                pin = lock.pins[ref.url]
                rows.append((case.id, ref.field, "pinned", redact(ref.url), pin.file))
            else:
                rows.append((case.id, ref.field, "unpinned", redact(ref.url), "-"))
                unpinned.append(case)
    if len(rows) == 1:
        print("no input images in the selection")
    else:
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for r in rows:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    for note in notes:
        print(f"# {note}")
    if unpinned:
        print(f"# {len([r for r in rows if r[2] == 'unpinned'])} input(s) unpinned: generation "
              f"refuses those cases until `{_pin_hint(unpinned)}` has run "
              f"once with network and cases/{ASSETS_DIRNAME}/ is committed")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    import hashlib

    from gt_gen.assets.lock import read_lock
    from gt_gen.assets.pin import partial_files
    from gt_gen.assets.resolve import read_pin
    from gt_gen.errors import ConfigError, IntegrityError
    from gt_gen.jsonio import read_regular_bytes
    from gt_gen.names import inside

    _, cases, folder, notes = _select(args)
    lock = read_lock(folder)
    problems: list[str] = []
    unpinned: list[str] = []
    unpinned_cases: list[Any] = []
    checked: dict[str, str] = {}  # file -> verdict, each file hashed once
    for case in cases:
        for ref in _inputs(case):
            if ref.local:
                where = Path(case.source).parent
                key = str(where / ref.path)
                if key not in checked:
                    try:
                        data = read_regular_bytes(inside(where, ref.path, kind="input image"),
                                                  what="input image")
                        digest = hashlib.sha256(data).hexdigest()
                        checked[key] = "ok" if digest == ref.sha256 else (
                            f"sha256 {digest[:12]}… is not the pinned {ref.sha256[:12]}…")
                    except (ConfigError, OSError) as exc:
                        checked[key] = " ".join(str(exc).split())
                verdict, shown = checked[key], ref.path
            elif ref.url in lock.pins:
                pin = lock.pins[ref.url]
                if str(pin.path) not in checked:
                    checked[str(pin.path)] = read_pin(pin)[1] or "ok"
                verdict, shown = checked[str(pin.path)], f"{ASSETS_DIRNAME}/{pin.file}"
            else:
                unpinned.append(f"{case.id} {ref.field}")
                unpinned_cases.append(case)
                print(f"unpinned  {case.id}  {ref.field}  {redact(ref.url)}")
                continue
            print(f"{'ok' if verdict == 'ok' else 'FAILED'}  {case.id}  {ref.field}  {shown}"
                  + ("" if verdict == "ok" else f"  ({verdict})"))
            if verdict != "ok":
                problems.append(f"{shown} ({case.id}: {verdict})")
    if not args.case_ids and args.group in (None, "all"):  # the whole lock, used or not
        for url, pin in sorted(lock.pins.items()):
            if str(pin.path) not in checked:
                why = read_pin(pin)[1]
                print(f"{'ok' if why is None else 'FAILED'}  (no case uses it)  "
                      f"{ASSETS_DIRNAME}/{pin.file}" + ("" if why is None else f"  ({why})"))
                if why is not None:
                    problems.append(f"{ASSETS_DIRNAME}/{pin.file} ({redact(url)}: {why})")
    for stray in partial_files(folder):
        problems.append(f"{stray} (a partial file left by an interrupted pin; `gt-gen assets "
                        "pin` removes it)")
    for note in notes:
        print(f"# {note}")
    if problems:
        raise IntegrityError(f"{len(problems)} pinned input(s) fail verification: "
                             + "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
                             + ": restore from git, or re-pin with `gt-gen assets pin --force`",
                             path=lock.path)
    if unpinned and args.require_pinned:
        raise ConfigError(f"{len(unpinned)} input(s) unpinned ({', '.join(unpinned[:3])}"
                          f"{', ...' if len(unpinned) > 3 else ''}): run "
                          f"`{_pin_hint(unpinned_cases)}` once with network and commit "
                          f"cases/{ASSETS_DIRNAME}/")
    print(f"verified: {sum(v == 'ok' for v in checked.values())} file(s) ok"
          + (f", {len(unpinned)} input(s) unpinned" if unpinned else ""))
    return 0


def run_pin(args: argparse.Namespace) -> int:
    import functools

    from gt_gen.assets.case_inputs import url_inputs
    from gt_gen.assets.lock import MAX_BYTES, read_lock
    from gt_gen.errors import UsageError

    if not 0 < args.timeout <= 600:
        raise UsageError(f"--timeout must be in (0, 600] seconds, got {args.timeout:g}")
    if not 1 <= args.attempts <= 20:
        raise UsageError(f"--attempts must be in [1, 20], got {args.attempts}")
    max_bytes = MAX_BYTES if args.max_bytes is None else args.max_bytes
    if not 0 < max_bytes <= MAX_BYTES:
        raise UsageError(f"--max-bytes must be in [1, {MAX_BYTES}], got {max_bytes}")
    reg, cases, folder, notes = _select(args)
    for note in notes:
        print(f"# {note}")
    users: dict[str, list[str]] = {}
    for case in cases:
        for url in url_inputs(case):
            users.setdefault(url, []).append(case.id)
    if not users:
        print("nothing to pin: no case of the selection takes an input image known only by URL")
        return 0
    if args.dry_run:
        pins = read_lock(folder).pins
        for url, ids in users.items():
            state = "pinned" if url in pins and not args.force else "would pin"
            print(f"{state}  {redact(url)}  ({', '.join(ids)})")
        return 0
    from gt_gen.assets.download import fetch
    from gt_gen.assets.pin import pin_urls

    fetcher = functools.partial(fetch, timeout=args.timeout, attempts=args.attempts,
                                max_bytes=max_bytes, allow_redirect_hosts=args.allow_redirect_host)
    results = pin_urls(list(users), folder, force=args.force, fetcher=fetcher)
    for r in results:
        p = r.pin
        detail = (f"{ASSETS_DIRNAME}/{p.file}  sha256 {p.sha256[:12]}…  {p.size_bytes} bytes  "
                  f"{p.format} {p.width}x{p.height}")
        extra = f"  (was {r.previous_sha256[:12]}…: the URL now serves other bytes)" \
            if r.status == "changed" else ""
        print(f"{r.status:<9} {redact(r.url)}  ->  {detail}{extra}  [{', '.join(users[r.url])}]")
    print(f"lock: {folder / LOCK_NAME} — review the diff and commit {folder}/")
    default = Path(reg.root) / ASSETS_DIRNAME
    if folder.resolve() != default.resolve():
        print(f"# note: generation reads {default}/, not {folder}/; copy the files and the lock "
              "there (or pass --cases to the folder beside them)")
    return 0
