"""Input images that sglang's CI sends by URL, pinned to local, reviewed copies.

Why: sglang's CI hands some cases an input image by URL (Qwen-Image edit and layered, FLUX.2
TI2I, LTX-2.3 TI2V). GT must be made from exactly the bytes the engine is given, and must be
reproducible long after a URL moved or its content changed; a GT job must also run where there
is no network. So a maintainer with network runs ``gt-gen assets pin`` once: each unpinned URL
is downloaded, checked to be a sane image, stored under ``cases/assets/`` and recorded in
``cases/assets/assets.lock.json`` (url -> file, sha256, size, date). Both are committed.

Why a lock file and not a sha256 written into the case TOML: the case files are written and
reviewed by people (comments, field order, sglang's facts with their sources); the URL there is
sglang's fact and stays the one human-edited line. What was downloaded, when, and its digest
is machine-made data, reviewed as a JSON diff beside the image it describes, and never edited
by hand. Case loading (:mod:`gt_gen.cases`) reads the lock of the cases folder's ``assets/``
and attaches to each case the pins of its URLs (``Case.input_pins``).

Generation reads only the pinned local copy, re-hashed before use
(:func:`gt_gen.assets.resolve.local_input`); an unpinned URL or a changed file fails the case
with the command that fixes it. Candidates (``gt-gen candidates``) keep sending sglang's URL,
exactly what sglang's CI sends, so GT and engine see the same image as long as the URL serves
the pinned bytes (``gt-gen assets verify`` re-hashes the local copies; ``pin --force``
re-downloads and shows whether the URL's content changed).

Light: nothing here imports requests or PIL at module level except :mod:`.download` and
:mod:`.image_check`, which only ``assets pin`` loads.
"""

from __future__ import annotations

#: The folder beside the case files that holds pinned inputs and their lock.
ASSETS_DIRNAME = "assets"
#: The lock file's name inside that folder.
LOCK_NAME = "assets.lock.json"
