"""Stage 1, download: corpora, splits, test sets and published outputs (rules/download.smk)."""
