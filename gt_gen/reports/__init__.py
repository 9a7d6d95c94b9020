"""Reports drawn from :class:`gt_gen.results.Results`: JUnit, Markdown, annotations, images."""
