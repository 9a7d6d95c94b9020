"""Full profile over real HTTP: huggingface_hub downloads a case's files from a loopback hub at
the pinned commits, with the token from the environment; then the cache serves it offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gt_gen.generate.backends.ltx.tiny import build_tiny
from tests.conftest import REPO
from tests.hub_server import Hub

TOKEN = "hf_LoopbackHubToken0123456789"
MODEL_SHA, GEMMA_SHA = "a" * 40, "b" * 40
DRIVER = """
import dataclasses, json, sys
from gt_gen.cases import load_registry
from gt_gen.errors import GtGenError
from gt_gen.generate.backends.ltx.weights import resolve_full
base = load_registry().get("ltx_2.3_two_stage_t2v_2gpus")
case = dataclasses.replace(base, model=dataclasses.replace(base.model, **json.loads(sys.argv[1])))
try:
    r = resolve_full(case)
except GtGenError as exc:
    print("ERR " + exc.one_line()); sys.exit(2)
print(json.dumps({"checkpoint": str(r.checkpoint), "gemma": str(r.gemma_root),
                  "upsampler": str(r.spatial_upsampler), "lora": str(r.distilled_lora), "prov": r.provenance}))
"""


def resolve(spec: dict, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", DRIVER, json.dumps(spec)], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, **env}, timeout=300)


def test_pinned_download_then_offline(tmp_path: Path) -> None:
    tiny = build_tiny(0)
    gemma = {p.name: p.read_bytes() for p in tiny.gemma_root.iterdir()} | {"README.md": b"not needed"}
    hub = Hub({"acme/ltx-tiny": (MODEL_SHA, {"ltx.safetensors": tiny.checkpoint.read_bytes(),
                                             "up.safetensors": tiny.spatial_upsampler.read_bytes(),
                                             "lora.safetensors": tiny.distilled_lora.read_bytes()}),
               "acme/gemma-tiny": (GEMMA_SHA, gemma)})
    spec = {"repo": "acme/ltx-tiny", "revision": MODEL_SHA, "checkpoint": "ltx.safetensors",
            "spatial_upsampler": "up.safetensors", "distilled_lora": "lora.safetensors",
            "text_encoder_repo": "acme/gemma-tiny", "text_encoder_revision": GEMMA_SHA}
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0", "HF_TOKEN": TOKEN,
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_XET": "1"}
    try:
        proc = resolve(spec, env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        assert Path(got["checkpoint"]).read_bytes() == tiny.checkpoint.read_bytes()
        assert f"/snapshots/{MODEL_SHA}/" in got["checkpoint"]
        assert got["prov"]["resolved_commit"] == MODEL_SHA
        assert got["prov"]["text_encoder_resolved_commit"] == GEMMA_SHA
        assert sorted(p.name for p in Path(got["gemma"]).iterdir()) == sorted(p.name for p in tiny.gemma_root.iterdir())
        import hashlib

        assert got["prov"]["files_sha256"]["ltx.safetensors"] == hashlib.sha256(tiny.checkpoint.read_bytes()).hexdigest()
        assert hub.log and all(auth == f"Bearer {TOKEN}" for _, _, auth in hub.log)
        assert not any("README.md" in p for _, p, _ in hub.log if "/resolve/" in p)  # allow_patterns honoured
        assert TOKEN not in proc.stdout + proc.stderr
        # Offline: the pinned commits are served from the cache, not one request made.
        n = len(hub.log)
        offline = resolve(spec, env | {"HF_HUB_OFFLINE": "1"})
        assert offline.returncode == 0, offline.stdout + offline.stderr
        assert json.loads(offline.stdout.strip().splitlines()[-1])["checkpoint"] == got["checkpoint"]
        assert len(hub.log) == n
        # A file the hub does not have at that commit: one line naming repo, file and revision.
        missing = resolve(spec | {"distilled_lora": "nope.safetensors"}, env)
        assert missing.returncode == 2
        assert f"nope.safetensors of acme/ltx-tiny@{MODEL_SHA}" in missing.stdout and TOKEN not in missing.stdout
    finally:
        hub.close()
