"""Stage 5, score: sacreBLEU metrics, COMET, significance (rules/score.smk)."""
