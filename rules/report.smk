# Stage 6, report: one long score table (system, kind, testset, pair, metric, score,
# signature, provenance), Markdown tables in the papers' shape and a bar chart per metric.


rule report_tables:
    input:
        scores=score_targets(),
    output:
        tsv="results/report/scores.tsv",
        markdown="results/report/scores.md",
        plots=expand("results/report/{metric}.png", metric=report_metrics()),
    log:
        "logs/report/report.log",
    conda:
        "../envs/data.yaml"
    params:
        comet_note=(
            None
            if COMET
            else "no COMET model configured: scoring.comet is null"
        ),
    script:
        "../workflow_scripts/report_tables.py"


rule report:
    input:
        rules.report_tables.output,
