"""GT generation: official pipelines, weights (full or tiny), group runner, manifest."""
