"""The official -> diffusers key table for LTX-2, and the coverage check.

Every official tensor name goes through :func:`map_key`, which returns the diffusers component
and key, or ``None`` for the few statistics diffusers does not keep (listed in ``DROPPED``).
:func:`check_coverage` then demands that (a) every official tensor was mapped or deliberately
dropped, (b) every diffusers tensor received exactly one official tensor of the same shape. On any
failure the conversion stops and names the tensors, never half-loading a model (the official
loader's ``strict=False`` leaves such weights on ``meta`` behind a warning).

Rename facts (diffusers 0.39.0 single-file loader for LTX-2, re-derived here on the tiny model):
transformer ``patchify_proj -> proj_in``, ``adaln_single -> time_embed``, ``q_norm -> norm_q``,
``av_ca_* -> av_cross_attn_*``; connectors ``transformer_1d_blocks -> transformer_blocks``,
aggregate embeds -> ``*_text_proj_in``; VAE blocks re-indexed (:mod:`ltx2_configs`); vocoder
``conv_pre/ups/resblocks/conv_post -> conv_in/upsamplers/resnets/conv_out``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gt_gen.errors import ConfigError

# Order matters: the longer official names go first (``audio_adaln_single`` contains
# ``adaln_single``; ``av_ca_*_adaln_single`` contains both).
TRANSFORMER_RENAMES: tuple[tuple[str, str], ...] = (
    ("av_ca_video_scale_shift_adaln_single.", "av_cross_attn_video_scale_shift."),
    ("av_ca_a2v_gate_adaln_single.", "av_cross_attn_video_a2v_gate."),
    ("av_ca_audio_scale_shift_adaln_single.", "av_cross_attn_audio_scale_shift."),
    ("av_ca_v2a_gate_adaln_single.", "av_cross_attn_audio_v2a_gate."),
    ("scale_shift_table_a2v_ca_video", "video_a2v_cross_attn_scale_shift_table"),
    ("scale_shift_table_a2v_ca_audio", "audio_a2v_cross_attn_scale_shift_table"),
    ("audio_patchify_proj.", "audio_proj_in."),
    ("patchify_proj.", "proj_in."),
    ("audio_adaln_single.", "audio_time_embed."),
    ("adaln_single.", "time_embed."),
    ("prompt_adaln_single.", "prompt_time_embed."),
    (".q_norm.", ".norm_q."),
    (".k_norm.", ".norm_k."),
)
CONNECTOR_RENAMES: tuple[tuple[str, str], ...] = (
    ("transformer_1d_blocks.", "transformer_blocks."),
    (".q_norm.", ".norm_q."),
    (".k_norm.", ".norm_k."),
)
VOCODER_RENAMES: tuple[tuple[str, str], ...] = (
    ("conv_pre.", "conv_in."), ("conv_post.", "conv_out."), ("ups.", "upsamplers."),
    ("resblocks.", "resnets."),
)
#: Timestep conditioning of the VAE decoder (``timestep_conditioning=True`` checkpoints).
VAE_DECODER_RENAMES: tuple[tuple[str, str], ...] = (
    ("decoder.last_time_embedder.", "decoder.time_embedder."),
    ("decoder.last_scale_shift_table", "decoder.scale_shift_table"),
)
STATISTICS = {"per_channel_statistics.mean-of-means": "latents_mean",
              "per_channel_statistics.std-of-means": "latents_std"}
#: Official statistics diffusers has no place for (it normalises with mean and std only).
DROPPED = ("per_channel_statistics.channel", "per_channel_statistics.mean-of-stds",
           "per_channel_statistics.mean-of-stds_over_std-of-means")

_DIFF_PREFIX = "model.diffusion_model."


@dataclass
class KeyTable:
    """The result of mapping one set of official tensors: rows, drops, failures."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (official, component, key)
    dropped: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)

    def by_component(self) -> dict[str, dict[str, str]]:
        """component -> {diffusers key: official key}."""
        out: dict[str, dict[str, str]] = {}
        for off, comp, key in self.rows:
            out.setdefault(comp, {})[key] = off
        return out


def _renamed(name: str, rules: Iterable[tuple[str, str]]) -> str:
    for old, new in rules:
        if old in name:
            name = name.replace(old, new)
    return name


def _transformer(rest: str) -> str:
    # Top-level names first (exact prefixes), then the in-block substring rules.
    for old, new in TRANSFORMER_RENAMES:
        if rest.startswith(old):
            return new + _renamed(rest[len(old):], TRANSFORMER_RENAMES[-2:])
    return _renamed(rest, TRANSFORMER_RENAMES)


def _vae(rest: str, encoder_keys: Mapping[int, str], decoder_keys: Mapping[int, str]) -> str | None:
    for stat, new in STATISTICS.items():
        if rest == stat:
            return new
    m = re.match(r"(encoder|decoder)\.(down_blocks|up_blocks)\.(\d+)\.(.*)", rest)
    if m:
        table = encoder_keys if m.group(1) == "encoder" else decoder_keys
        idx = int(m.group(3))
        if idx not in table:
            return None
        tail = m.group(4).replace("res_blocks.", "resnets.")
        return f"{m.group(1)}.{table[idx]}.{tail}"
    for old, new in VAE_DECODER_RENAMES:
        if rest.startswith(old):
            return new + rest[len(old):]
    return rest


def map_key(name: str, *, encoder_keys: Mapping[int, str],
            decoder_keys: Mapping[int, str]) -> tuple[str, str] | None | str:
    """``(component, diffusers key)`` for an official main-checkpoint tensor name.

    Returns ``"drop"`` for statistics diffusers does not keep and ``None`` when no rule applies.
    """
    if any(name.endswith(d) for d in DROPPED):
        return "drop"
    if name.startswith(_DIFF_PREFIX):
        rest = name[len(_DIFF_PREFIX):]
        for mod, comp in (("video_embeddings_connector.", "video_connector."),
                          ("audio_embeddings_connector.", "audio_connector.")):
            if rest.startswith(mod):
                return "connectors", comp + _renamed(rest[len(mod):], CONNECTOR_RENAMES)
        return "transformer", _transformer(rest)
    if name.startswith("text_embedding_projection."):
        rest = name[len("text_embedding_projection."):]
        for mod, new in (("video_aggregate_embed.", "video_text_proj_in."),
                         ("audio_aggregate_embed.", "audio_text_proj_in.")):
            if rest.startswith(mod):
                return "connectors", new + rest[len(mod):]
        return None
    if name.startswith("vae."):
        key = _vae(name[len("vae."):], encoder_keys, decoder_keys)
        return None if key is None else ("vae", key)
    if name.startswith("audio_vae."):
        rest = name[len("audio_vae."):]
        return "audio_vae", STATISTICS.get(rest, rest)
    if name.startswith("vocoder."):
        return "vocoder", _renamed(name[len("vocoder."):], VOCODER_RENAMES)
    return None


def build_table(names: Iterable[str], *, encoder_keys: Mapping[int, str],
                decoder_keys: Mapping[int, str]) -> KeyTable:
    """Map every official name of the main checkpoint."""
    table = KeyTable()
    for name in sorted(names):
        hit = map_key(name, encoder_keys=encoder_keys, decoder_keys=decoder_keys)
        if hit == "drop":
            table.dropped.append(name)
        elif hit is None:
            table.unmapped.append(name)
        else:
            assert isinstance(hit, tuple)
            table.rows.append((name, hit[0], hit[1]))
    return table


def check_coverage(component: str, mapped: Mapping[str, str],
                   official_shapes: Mapping[str, tuple[int, ...]],
                   expected: Mapping[str, tuple[int, ...]],
                   unused_prefixes: Iterable[str] = ()) -> None:
    """Every diffusers tensor of ``component`` filled once, with the right shape; else stop.

    ``mapped``: diffusers key -> official key; ``expected``: the diffusers model's state-dict
    shapes (built on ``meta``); ``unused_prefixes``: diffusers tensors that may stay unfed
    because no computation reads them (see ``VaeLayout.unused_prefixes``)."""
    unused = tuple(unused_prefixes)
    extra = sorted(k for k in mapped if k not in expected)
    missing = sorted(k for k in expected if k not in mapped and not k.startswith(unused or ("\0",)))
    wrong = sorted(f"{mapped[k]} {official_shapes[mapped[k]]} -> {k} {expected[k]}"
                   for k in mapped if k in expected
                   and tuple(official_shapes[mapped[k]]) != tuple(expected[k]))
    problems = []
    if extra:
        problems.append(f"{len(extra)} official tensors have no place in diffusers' {component} "
                        f"({', '.join(mapped[k] + ' -> ' + k for k in extra[:8])})")
    if missing:
        problems.append(f"{len(missing)} diffusers tensors of {component} receive nothing "
                        f"({', '.join(missing[:8])})")
    if wrong:
        problems.append(f"{len(wrong)} shapes differ ({'; '.join(wrong[:4])})")
    if problems:
        raise ConfigError("gt-gen convert: coverage check failed: " + "; ".join(problems))


def lora_key(name: str) -> str | None:
    """``diffusion_model.<official module>.lora_A.weight`` -> ``transformer.<diffusers module>...``."""
    m = re.fullmatch(r"diffusion_model\.(.+)\.(lora_[AB])\.weight", name)
    if not m:
        return None
    return f"transformer.{_transformer(m.group(1) + '.')[:-1]}.{m.group(2)}.weight"
