"""BayLing-style language alignment, as an importable library.

One subpackage per workflow stage, named like its rule file, results and logs folders
(``download``, ``synthesize``, ``finetune``, ``decode``, ``score``, ``report``); the shared
``prompts`` (templates, chat formats, chat tokenization, batched generation); ``workflow``
(what the rules use at parse time); and the ground floor ``io``, ``logs``, ``languages``.
Imports run downhill only: a stage may use an earlier stage's library, never a later one's.
Each stage runs as ``python -m bayling_pipeline.<stage>``; the Snakemake rules under
``rules/`` call the package through thin adapters. Nothing here imports snakemake, and heavy
libraries (torch, transformers, comet) are imported inside the functions that need them, so
importing the package stays cheap.
"""
