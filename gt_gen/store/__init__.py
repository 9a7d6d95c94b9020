"""The ci-data store: sources (local dir, git, raw HTTP), lookup, cache, publish."""
