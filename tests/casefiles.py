"""Case-file text for tests that need their own small groups."""

from __future__ import annotations


def case_toml(case_id: str, *, modality: str = "video", official: bool = False, prompt: str = "p",
              width: int = 96, height: int = 64, num_frames: int | None = None, fps: int | None = None,
              seed: int = 1) -> str:
    """One ``[[case]]`` table: official cases use the tiny model, others a placeholder model."""
    lines = ["[[case]]", f'id = "{case_id}"', f'modality = "{modality}"',
             f'backend = "{"ltx_official" if official else "sglang_native"}"', 'pipeline = "one_stage"',
             'runner = "r"', f'comparability = "{"official" if official else "native_only"}"']
    if not official:
        lines.append('reason = "test"')
    lines += ["[case.model]"] + (['repo = "tiny"', 'revision = "seed-0"', 'checkpoint = "c"'] if official
                                 else ['repo = "x"', 'revision = "y"', 'checkpoint = "z"'])
    lines += ["[case.request]", f'prompt = "{prompt}"', f"width = {width}", f"height = {height}"]
    lines += [f"num_frames = {num_frames}"] if num_frames is not None else []
    lines += [f"fps = {fps}"] if fps is not None else []
    lines.append(f"seed = {seed}")
    return "\n".join(lines) + "\n"
