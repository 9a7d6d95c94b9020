"""One module per ``gt-gen`` command; each has ``register(subparsers)`` and returns exit codes."""
