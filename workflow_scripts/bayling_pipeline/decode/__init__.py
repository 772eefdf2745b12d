"""Stage 4, decode: translation of test sets and multi-turn dialogues (rules/decode.smk)."""
