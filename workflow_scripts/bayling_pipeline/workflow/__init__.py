"""What the rules use at parse time: config cross-checks and config lookups.

Nothing here imports snakemake or anything heavy: every cluster job parses the workflow.
"""
