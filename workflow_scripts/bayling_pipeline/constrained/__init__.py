"""Lexically constrained translation, a stage of its own (rules/constrained.smk): constraint
sets, decoding with BayLing's constrained prompt, published outputs, BLEU and term hit
rates, and its table in the report (docs/constrained-translation.md)."""
