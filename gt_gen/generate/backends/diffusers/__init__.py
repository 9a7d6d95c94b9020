"""The diffusers backend: each family's official diffusers release (FLUX.1, FLUX.2, Qwen-Image,
Z-Image, Wan), loaded with ``from_pretrained`` at pinned commits, or tiny models built here."""
