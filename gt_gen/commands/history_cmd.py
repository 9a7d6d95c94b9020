"""``gt-gen history import --db DB RESULTS...``: record existing results.json files."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="results history (SQLite)")
    hs = p.add_subparsers(dest="history_command", required=True)
    ip = hs.add_parser("import", help="import results.json files")
    ip.add_argument("--db", required=True, help="SQLite file (created when missing)")
    ip.add_argument("results", nargs="+", help="results.json files written by `gt-gen compare`")
    ip.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from gt_gen.history import import_files

    new = import_files(args.db, args.results)
    print(f"imported {new} new run(s) of {len(args.results)} file(s) into {args.db}")
    return 0
