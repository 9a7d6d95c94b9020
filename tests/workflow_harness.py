"""Run a GitHub Actions workflow's jobs locally: `run:` steps for real, `uses:` steps emulated.

Expressions (`${{ }}`) are evaluated from given inputs, secrets and github context, job and
step outputs; GITHUB_OUTPUT and GITHUB_STEP_SUMMARY are real files. Supported `uses:`
actions: checkout (the workspace, or another repository cloned with git), setup-python and
cache (no-ops here), upload-artifact / download-artifact (a local artifact store).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>\|\||&&|==|!=|!|\(|\)|,)|(?P<num>\d+(?:\.\d+)?)|(?P<id>[A-Za-z_][\w.\-]*\*?))")


@dataclass
class Ctx:
    inputs: dict[str, Any]
    secrets: dict[str, str]
    github: dict[str, str]
    needs: dict[str, dict] = field(default_factory=dict)
    matrix: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, dict] = field(default_factory=dict)
    runner: dict[str, str] = field(default_factory=dict)
    job_status: str = "success"

    def get(self, dotted: str) -> Any:
        head, *rest = dotted.split(".")
        obj: Any = {"inputs": self.inputs, "secrets": self.secrets, "github": self.github,
                    "needs": self.needs, "matrix": self.matrix, "steps": self.steps,
                    "runner": self.runner}[head]
        for part in rest:
            obj = obj.get(part, "") if isinstance(obj, dict) else ""
        return obj


def evaluate(expr: str, ctx: Ctx) -> Any:
    """Evaluate one expression (the subset the project's workflows use)."""
    out, pos = [], 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot parse expression {expr!r} at {pos}")
        pos = m.end()
        if m.group("str") is not None:
            out.append(repr(m.group("str")[1:-1].replace("''", "'")))
        elif m.group("num") is not None:
            out.append(m.group("num"))
        elif m.group("op"):
            out.append({"||": " or ", "&&": " and ", "!": " not "}.get(m.group("op"), m.group("op")))
        else:
            name = m.group("id")
            nxt = expr[pos:].lstrip()[:1]
            if nxt == "(":
                out.append({"fromJSON": "_fromjson", "always": "_always", "success": "_success",
                            "failure": "_failure", "format": "_format"}[name])
            elif name in ("true", "false", "null"):
                out.append({"true": "True", "false": "False", "null": "None"}[name])
            else:
                out.append(f"_get({name!r})")
    env = {"_get": ctx.get, "_fromjson": json.loads, "_always": lambda: True,
           "_success": lambda: ctx.job_status == "success", "_failure": lambda: ctx.job_status != "success",
           "_format": lambda f, *a: f.format(*a)}
    return eval("".join(out), {"__builtins__": {}}, env)  # noqa: S307 - our own workflows only


def render(value: Any, ctx: Ctx) -> Any:
    """Substitute every ``${{ }}`` in a string (a whole-string expression keeps its type)."""
    if not isinstance(value, str):
        return value
    whole = EXPR.fullmatch(value.strip())
    if whole and value.count("${{") == 1:
        return evaluate(whole.group(1), ctx)

    def sub(m: re.Match) -> str:
        v = evaluate(m.group(1), ctx)
        return "true" if v is True else "false" if v is False else "" if v is None else str(v)
    return EXPR.sub(sub, value)


class Runner:
    """Runs a workflow's jobs in dependency order inside ``root``."""

    def __init__(self, workflow: Path, root: Path, source_tree: Path, *, inputs: dict, secrets: dict,
                 github: dict, repo_map: dict[str, str] | None = None) -> None:
        self.wf = yaml.safe_load(workflow.read_text())
        self.root, self.source_tree = root, source_tree
        self.ctx_base = dict(inputs=inputs, secrets=secrets, github=github)
        self.repo_map = repo_map or {}
        self.artifacts = root / "artifacts"
        root.mkdir(parents=True, exist_ok=True)
        self.summary = root / "step_summary.md"
        self.summary.touch()
        self.log: list[str] = []
        self.results: dict[str, dict] = {}

    def _order(self) -> list[str]:
        jobs, done, order = self.wf["jobs"], set(), []
        while len(order) < len(jobs):
            for name, job in jobs.items():
                needs = job.get("needs", [])
                needs = [needs] if isinstance(needs, str) else needs
                if name not in done and all(n in done for n in needs):
                    done.add(name)
                    order.append(name)
        return order

    def run(self) -> dict[str, dict]:
        for name in self._order():
            self._run_job(name, self.wf["jobs"][name])
        return self.results

    def _ctx(self, **kw) -> Ctx:
        needs = {n: r for n, r in self.results.items()}
        return Ctx(**self.ctx_base, needs=needs, runner={"temp": str(self.root / "tmp")}, **kw)

    def _run_job(self, name: str, job: dict) -> None:
        ctx = self._ctx()
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        cond = job.get("if")
        deps_ok = all(self.results[n]["result"] == "success" for n in needs)
        run_it = render(cond, ctx) if cond is not None else deps_ok
        if cond is not None and "always()" not in str(cond):
            run_it = run_it and deps_ok
        if not run_it:
            self.results[name] = {"result": "skipped", "outputs": {}}
            return
        matrix = job.get("strategy", {}).get("matrix")
        entries = [{}]
        if matrix is not None:
            m = render(matrix, ctx)
            entries = m.get("include", [])
        result, outputs = "success", {}
        for i, entry in enumerate(entries):
            r, outs = self._run_instance(name, job, entry, i)
            outputs.update(outs)
            if r != "success":
                result = "failure"
        self.results[name] = {"result": result, "outputs": outputs}

    def _run_instance(self, name: str, job: dict, entry: dict, i: int) -> tuple[str, dict]:
        ws = self.root / "ws" / f"{name}-{i}"
        ws.mkdir(parents=True)
        ctx = self._ctx(matrix=entry)
        status = "success"
        for n, step in enumerate(job["steps"]):
            cond = step.get("if")
            should = render(cond, Ctx(**{**ctx.__dict__, "job_status": status})) if cond else status == "success"
            if not should:
                continue
            ok = self._step(step, ws, ctx, f"{name}[{i}].{step.get('name', step.get('uses', n))}")
            if not ok:
                status = "failure"
        outputs = {k: render(v, ctx) for k, v in job.get("outputs", {}).items()}
        return status, outputs

    def _step(self, step: dict, ws: Path, ctx: Ctx, label: str) -> bool:
        with_ = {k: render(v, ctx) for k, v in step.get("with", {}).items()}
        if "uses" in step:
            return self._uses(step["uses"], with_, ws)
        env = {**os.environ, **{k: str(render(v, ctx)) for k, v in step.get("env", {}).items()}}
        out_file = ws / f".out-{len(ctx.steps)}"
        out_file.write_text("")
        env |= {"GITHUB_OUTPUT": str(out_file), "GITHUB_STEP_SUMMARY": str(self.summary),
                "GITHUB_WORKSPACE": str(ws), "GITHUB_ACTIONS": "true", "CI": "true"}
        cwd = ws / render(step.get("working-directory", "."), ctx)
        proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step["run"]], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=900)
        self.log.append(f"--- {label} (exit {proc.returncode})\n{proc.stdout}{proc.stderr}")
        outputs = {}
        for line in out_file.read_text().splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                outputs[k] = v
        if step.get("id"):
            ctx.steps[step["id"]] = {"outputs": outputs, "outcome": "success" if proc.returncode == 0 else "failure"}
        return proc.returncode == 0

    def _uses(self, action: str, with_: dict, ws: Path) -> bool:
        name = action.split("@")[0]
        if name == "actions/checkout":
            if "repository" not in with_:
                shutil.copytree(self.source_tree, ws, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
                    ".git", ".venv*", ".ci-tools", "__pycache__", "out", "*.egg-info"))
                return True
            url = self.repo_map.get(with_["repository"], with_["repository"])
            dest = ws / with_.get("path", ".")
            subprocess.run(["git", "clone", "-q", url, str(dest)], check=True)
            if with_.get("ref"):
                subprocess.run(["git", "checkout", "-q", with_["ref"]], cwd=dest, check=True)
            return True
        if name in ("actions/setup-python", "actions/cache"):
            return True
        if name == "actions/upload-artifact":
            src = ws / with_["path"]
            if not src.exists():
                return with_.get("if-no-files-found") != "error"
            shutil.copytree(src, self.artifacts / with_["name"], dirs_exist_ok=True)
            return True
        if name == "actions/download-artifact":
            import fnmatch

            dest = ws / with_.get("path", ".")
            names = [p.name for p in self.artifacts.iterdir()] if self.artifacts.is_dir() else []
            chosen = [n for n in names if fnmatch.fnmatch(n, with_.get("pattern", with_.get("name", "*")))]
            single = "name" in with_  # one named artifact lands in `path` itself, as on GitHub
            for n in chosen:
                shutil.copytree(self.artifacts / n, dest if single or with_.get("merge-multiple") else dest / n,
                                dirs_exist_ok=True)
            return bool(chosen)
        raise AssertionError(f"the harness cannot emulate {action}")
