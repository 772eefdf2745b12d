"""BayLing-style language alignment, as an importable library.

Each module holds the pure logic of one workflow stage (download, synthesize, finetune,
decode, score, report); the Snakemake rules under ``rules/`` call it through thin adapters.
Nothing here imports snakemake, and heavy libraries (torch, transformers, comet) are
imported inside the functions that need them, so importing the package stays cheap.
"""
