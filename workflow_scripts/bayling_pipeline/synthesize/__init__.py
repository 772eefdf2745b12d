"""Stage 2, synthesize: BayLing-style instructions from a parallel corpus (rules/synthesize.smk)."""
