# Stage 6, report: one long score table (system, kind, testset, pair, metric, score,
# signature, provenance), Markdown tables in the papers' shape and a bar chart per metric.


# `snakemake --report report.html` after a run: the tables and plots below, with this text
report: "../report/workflow.rst"


rule report_tables:
    input:
        scores=score_targets(),
        significance=significance_targets(),
    output:
        tsv=report(
            "results/report/scores.tsv",
            category="Scores",
            caption="../report/scores_tsv.rst",
        ),
        markdown=report(
            "results/report/scores.md",
            category="Scores",
            caption="../report/scores_md.rst",
        ),
        latex=report(
            "results/report/tables.tex",
            category="Scores",
            caption="../report/tables_tex.rst",
        ),
        plots=report(
            expand("results/report/{metric}.png", metric=Q.report_metrics(config)),
            category="Plots",
            caption="../report/plot.rst",
        ),
    log:
        "logs/report/report.log",
    conda:
        "../envs/data.yaml"
    params:
        comet_note=(
            None if COMET else "no COMET model configured: scoring.comet is null"
        ),
        groups=config["report"]["groups"],
        reference=report_reference_label(),
    script:
        "../workflow_scripts/report_tables.py"


rule report:
    input:
        rules.report_tables.output,
