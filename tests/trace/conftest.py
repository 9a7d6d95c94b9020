"""Session-shared runs for the trace tests: the tiny family, its diffusers conversion, the
official one-stage run at fp32 and bf16, and the diffusers engine (built once, reused)."""

from __future__ import annotations

from typing import Any

import pytest

ONE = "tiny_one_stage_t2v"
TWO = "tiny_two_stage_t2v"


def _case(case_id: str) -> Any:
    """A tiny case read from ``cases/tiny.toml`` alone (other groups' files play no part)."""
    from gt_gen.cases import load_group_file
    from tests.conftest import REPO

    return next(c for c in load_group_file(REPO / "cases" / "tiny.toml") if c.id == case_id)


@pytest.fixture(scope="session")
def one_case() -> Any:
    return _case(ONE)


@pytest.fixture(scope="session")
def two_case() -> Any:
    return _case(TWO)


@pytest.fixture(scope="session")
def one_model(one_case: Any) -> Any:
    from gt_gen.trace.run import resolve_model

    return resolve_model(one_case)


@pytest.fixture(scope="session")
def official_fp32(one_case: Any, one_model: Any) -> Any:
    from gt_gen.trace.run import record_official

    return record_official(one_case, one_model, precision="fp32")


@pytest.fixture(scope="session")
def official_bf16(one_case: Any, one_model: Any) -> Any:
    from gt_gen.trace.run import record_official

    return record_official(one_case, one_model, precision="bf16")


@pytest.fixture(scope="session")
def engine(one_case: Any, one_model: Any) -> Any:
    from gt_gen.trace.run import diffusers_engine

    return diffusers_engine(one_case, one_model, precision="fp32")


@pytest.fixture(scope="session")
def diffusers_fp32(one_case: Any, one_model: Any, engine: Any, official_fp32: Any) -> Any:
    """diffusers fp32 driven with the official fp32 run's noise and sigmas."""
    from gt_gen.trace.run import record_diffusers

    return record_diffusers(one_case, one_model, engine, inputs=official_fp32.inputs)


@pytest.fixture(scope="session")
def tiny_cases_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A cases folder holding only the tiny group (and its assets)."""
    import shutil

    from tests.conftest import REPO

    root = tmp_path_factory.mktemp("tiny-cases")
    shutil.copy(REPO / "cases" / "tiny.toml", root / "tiny.toml")
    shutil.copytree(REPO / "cases" / "assets", root / "assets")
    return root


def ti2v_of(one: Any) -> Any:
    """A tiny one-stage image-to-video case: the one-stage case conditioned on the tiny image
    asset at frame 0, strength 1.0, crf 33 (as sglang's ``ltx_2.3_one_stage_ti2v``), on the same
    tiny checkpoint. Built here, not in ``cases/tiny.toml``: the tiny group's GT stays as it is."""
    import dataclasses

    hq = _case("tiny_hq_ti2v")  # holds the tiny image asset, pinned by sha256
    request = dataclasses.replace(one.request, image=hq.request.image, prompt=hq.request.prompt)
    return dataclasses.replace(one, id="tiny_one_stage_ti2v", request=request, source=hq.source)


@pytest.fixture(scope="session")
def ti2v_case(one_case: Any) -> Any:
    return ti2v_of(one_case)


@pytest.fixture(scope="session")
def official_ti2v_fp32(ti2v_case: Any, one_model: Any) -> Any:
    from gt_gen.trace.run import record_official

    return record_official(ti2v_case, one_model, precision="fp32")


@pytest.fixture(scope="session")
def diffusers_ti2v_fp32(ti2v_case: Any, one_model: Any, engine: Any, official_ti2v_fp32: Any) -> Any:
    """diffusers' LTX2ImageToVideoPipeline (fp32) with the official fp32 run's noise and sigmas."""
    from gt_gen.trace.run import record_diffusers

    return record_diffusers(ti2v_case, one_model, engine, inputs=official_ti2v_fp32.inputs)
