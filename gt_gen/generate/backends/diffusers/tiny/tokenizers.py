"""Tokenizers for the tiny models, built offline from a small corpus (no hub, no download).

Why two kinds: the T5/CLIP/UMT5/Mistral text paths only need ids that differ by word, so a
``tokenizers`` WordLevel vocabulary does. Qwen's text path is sensitive to real token counts:
Qwen-Image encodes the prompt inside a fixed system template and then *drops* the template's
first 34 tokens (64 for the edit pipelines); a tokenizer that packs the template into fewer
tokens would drop the user's prompt instead. So the Qwen tokenizer is a byte-level BPE trained
here on a corpus made of the pipelines' own templates, which makes every template word one
token, as Qwen's real tokenizer does -- the template prefixes come out at 34 and 64 tokens
exactly (tested) -- with Qwen's special tokens and a chat template (Qwen3's ``enable_thinking``
switch included, which Z-Image and FLUX.2 klein pass).
"""

from __future__ import annotations

from typing import Any

#: Words of the tiny prompts (tiny cases, controls) so that they map to distinct ids.
PROMPT_WORDS = (
    "a red fox runs through snow at dawn doraemon is eating dorayaki convert 2d style to 3d "
    "the magician bear on left alchemist right facing each other in central park square high "
    "quality cute halloween themed illustration consistent and lighting curious raccoon waves "
    "crash black rocks under storm clouds camera slowly pans over green hills river plain grey "
    "concrete wall static shot flat light nothing moves bright ball bouncing blurry out of focus "
    "overexposed low contrast grainy flickering cat dog tree sky sun moon city night rain")

QWEN_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>",
                 "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>",
                 "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
                 "<|image_pad|>", "<|video_pad|>", "<think>", "</think>")

#: Qwen3-style chat template: system/user/assistant turns, an empty think block when thinking
#: is disabled (what Z-Image and FLUX.2 klein ask for).
QWEN_CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string %}{{- message['content'] }}"
    "{%- else %}{%- for part in message['content'] %}"
    "{%- if part['type'] == 'text' %}{{- part['text'] }}"
    "{%- else %}{{- '<|vision_start|><|image_pad|><|vision_end|>' }}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}")

#: Mistral-style template over list contents (FLUX.2 dev formats its prompt this way).
MISTRAL_CHAT_TEMPLATE = (
    "{{- bos_token + ' ' }}"
    "{%- for message in messages %}"
    "{%- if message['content'] is string %}{%- set text = message['content'] %}"
    "{%- else %}{%- set text = message['content'] | selectattr('type', 'equalto', 'text') "
    "| map(attribute='text') | join(' ') %}{%- endif %}"
    "{%- if message['role'] == 'system' %}{{- ' [SYSTEM_PROMPT] ' + text + ' [/SYSTEM_PROMPT] ' }}"
    "{%- elif message['role'] == 'user' %}{{- ' [INST] ' + text + ' [/INST] ' }}"
    "{%- else %}{{- ' ' + text + ' ' + eos_token }}{%- endif %}"
    "{%- endfor %}")


def _template_corpus() -> list[str]:
    """The Qwen pipelines' own prompt templates and the FLUX.2 system message."""
    import importlib

    texts: list[str] = []
    for mod, cls in (("diffusers.pipelines.qwenimage.pipeline_qwenimage", "QwenImagePipeline"),
                     ("diffusers.pipelines.qwenimage.pipeline_qwenimage_edit",
                      "QwenImageEditPipeline"),
                     ("diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus",
                      "QwenImageEditPlusPipeline")):
        import inspect

        src = inspect.getsource(getattr(importlib.import_module(mod), cls).__init__)
        for line in src.splitlines():
            if "prompt_template_encode = " in line:
                texts.append(line.split("=", 1)[1].strip().strip('"'))
    from diffusers.pipelines.flux2 import system_messages

    texts += [v for k, v in vars(system_messages).items() if k.isupper() and isinstance(v, str)]
    return [t.replace("\\n", "\n") for t in texts]


def wordlevel(specials: tuple[str, ...]) -> Any:
    """A lower-casing WordLevel tokenizer over the prompt words (plus ``specials``)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    words = sorted(set(PROMPT_WORDS.split()) | {"[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[INST]",
                                                 "[/INST]"})
    for text in _template_corpus():
        words = sorted(set(words) | {w.lower() for w in text.replace("\n", " ").split()})
    vocab = {tok: i for i, tok in enumerate([*specials, *[w for w in words if w not in specials]])}
    tk = Tokenizer(models.WordLevel(vocab, unk_token=specials[1]))
    tk.normalizer = normalizers.Lowercase()
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tk


def clip_tokenizer(max_length: int = 77) -> Any:
    from transformers import PreTrainedTokenizerFast

    tk = wordlevel(("<|endoftext|>", "<unk>", "<|startoftext|>"))
    return PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", pad_token="<|endoftext|>",
                                   bos_token="<|startoftext|>", eos_token="<|endoftext|>",
                                   model_max_length=max_length)


def t5_tokenizer(max_length: int = 512) -> Any:
    from transformers import PreTrainedTokenizerFast

    tk = wordlevel(("<pad>", "<unk>", "</s>"))
    return PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", pad_token="<pad>",
                                   eos_token="</s>", model_max_length=max_length)


def mistral_tokenizer(max_length: int = 512) -> Any:
    from transformers import PreTrainedTokenizerFast

    tk = wordlevel(("<pad>", "<unk>", "<s>", "</s>"))
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", pad_token="<pad>",
                                  bos_token="<s>", eos_token="</s>", model_max_length=max_length,
                                  padding_side="right")
    tok.chat_template = MISTRAL_CHAT_TEMPLATE
    return tok


def qwen_tokenizer(vocab_size: int = 1024) -> Any:
    """Byte-level BPE with Qwen's special tokens and a chat template, trained on the templates."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2TokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tk.decoder = decoders.ByteLevel()
    corpus = _template_corpus() * 20 + [PROMPT_WORDS] * 20
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(QWEN_SPECIALS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tk.train_from_iterator(corpus, trainer)
    tok = Qwen2TokenizerFast(tokenizer_object=tk, unk_token=None, bos_token=None,
                             eos_token="<|im_end|>", pad_token="<|endoftext|>",
                             model_max_length=131072)
    tok.chat_template = QWEN_CHAT_TEMPLATE
    return tok
