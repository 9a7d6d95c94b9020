"""Local GT regeneration in one command: the same flow as workflows/diffusion-ci-gt-gen.yml.

plan (print the matrix) -> generate -> quality gate (publish --check-only) -> publish
(only with --publish). Example, offline, against a local ci-data clone:

    python scripts/regenerate_local.py --group tiny --repo ../ci-data --publish
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from gt_gen.cli import main as gt_gen


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--group", required=True)
    p.add_argument("--case", action="append", default=[])
    p.add_argument("--repo", required=True, help="ci-data repository (path or URL)")
    p.add_argument("--target", default="official_generated")
    p.add_argument("--platform", default="")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="out/regenerate")
    p.add_argument("--publish", action="store_true", help="publish after the checks pass")
    p.add_argument("--branch", default=None)
    a = p.parse_args(argv)
    sel = ["--group", a.group, *[x for c in a.case for x in ("--case", c)]]
    plat = ["--platform", a.platform] if a.platform else []
    steps = [["cases", "matrix", *sel],
             ["generate", *sel, "--out", a.out, "--device", a.device]]
    sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    ref = subprocess.run(["git", "symbolic-ref", "-q", "HEAD"], capture_output=True, text=True).stdout.strip()
    pub = ["publish", "--source", a.out, "--target", a.target, *plat, "--repo", a.repo,
           "--source-ref", ref, "--source-sha", sha, *(["--branch", a.branch] if a.branch else [])]
    steps.append([*pub, "--check-only"])
    if a.publish:
        steps.append(pub)
    for step in steps:
        print(f"regenerate_local: gt-gen {' '.join(step)}", flush=True)
        rc = gt_gen(step)
        if rc != 0:
            print(f"regenerate_local: stopped, `gt-gen {step[0]}` exited {rc}", file=sys.stderr)
            return rc
    print(f"regenerate_local: done; GT in {Path(a.out).resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
