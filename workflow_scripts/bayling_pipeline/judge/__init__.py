"""Stage judge: BayLing-80 judged pairwise (rules/judge.smk, target ``judge``; docs/judging.md).

Two systems' answers to the same dialogues are shown to a judge model behind any
OpenAI-compatible endpoint, in both orders, and reviewed in the format of BayLing's
released GPT-4 reviews; the released reviews themselves enter as published judgments, so
the paper's battle and radar charts regenerate without any API call. Modules:

* ``plan``: the ``judging:`` config section as names and paths (parse time, light)
* ``prompts``: the judge's prompt (``PROMPT_ID``)
* ``reviews``: a review's two scores, or a counted failure
* ``records``: answer files and review records
* ``pairwise``: one judging job (teacher client + cache, both orders)
* ``published``: released answers and reviews, fetched and normalized
* ``aggregate``: wins/ties/losses, score sums and ratios, category means
* ``tables``, ``plots``, ``write``: ``results/report/judging.{tsv,md,tex}`` and the figures

``python -m bayling_pipeline.judge {pairwise,answers,reviews,report} --help``.
"""
