"""Stage 6, report: long score table, paper-style tables and plots (rules/report.smk)."""
