#!/usr/bin/env bash
# Install gt-gen and the pinned official LTX-2 packages on a CI runner.
# Usage: scripts/ci-install.sh ["ltx-core==1.0.0 ltx-pipelines==1.0.0"]
# A warm runner (self-hosted GPU boxes keep their venv) that already has exactly these
# versions skips the install; anything else installs.
set -euo pipefail
pin="${1:-ltx-core==1.0.0 ltx-pipelines==1.0.0}"
if python - "$pin" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
import gt_gen  # noqa: F401
for req in sys.argv[1].split():
    name, _, want = req.partition("==")
    if version(name) != want:
        raise SystemExit(1)
PY
  echo "ci-install: gt-gen and $pin already installed"
  exit 0
fi
python -m pip install --upgrade pip
# shellcheck disable=SC2086
python -m pip install -e '.[test]' $pin
