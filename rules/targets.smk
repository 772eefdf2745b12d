# Target lists: every output of a stage the config asks for, by rule. Called when a rule's
# input is built (the rules they name exist by then) or, as input functions, when the DAG
# is built (after every rule file is included).


def published_targets():
    """Every published output the config lists, by (system, its test set, direction)."""
    return [
        rules.download_published.output.hypotheses.format(
            published=name, testset=testset, pair=pair
        )
        for name, testset, pair in Q.published_downloads(config)
    ]


def dialogue_download_targets():
    """The dialogue sets fetched by URL."""
    return [
        rules.download_dialogues.output[0].format(dialogue_set=name)
        for name in Q.downloaded_dialogue_sets(config)
    ]


def finetune_targets():
    """Every run's training record, and the merged model of runs that ask for one."""
    records = [
        rules.finetune_lora.output.record.format(run=r) for r in config["finetune"]
    ]
    merged = [
        rules.finetune_merge.output[0].format(run=r) for r in Q.merged_runs(config)
    ]
    return records + merged


def pooled_or(pattern, **fixed):
    """`pattern` for every evaluated (system, testset, direction), except that a system's
    directions of a pooled test set are its pooled job's index (POOLED_INDEX[kind], the
    kind named by ``fixed["index"]``), once."""
    kind = fixed.pop("index")
    targets = []
    for system, testset, pair in Q.evaluated_system_directions(config):
        if testset in POOLED_TESTSETS and system in POOLED_SYSTEMS:
            targets.append(
                POOLED_INDEX[kind].format(system=system, testset=testset, **fixed)
            )
        else:
            targets.append(
                pattern.format(system=system, testset=testset, pair=pair, **fixed)
            )
    return list(dict.fromkeys(targets))


def score_targets():
    """Every score file of the evaluation: sacreBLEU metrics, plus COMET when configured
    (for a pooled job, its index)."""
    targets = [
        path
        for metric in config["scoring"]["metrics"]
        for path in pooled_or(
            rules.score_sacrebleu.output[0], metric=metric, index="score"
        )
    ]
    if COMET:
        targets += pooled_or(
            rules.score_comet.output.score, comet=COMET["name"], index="comet"
        )
    return list(dict.fromkeys(targets))


def significance_targets():
    """One paired bootstrap file per (testset, direction, metric) the baseline is scored
    on, when scoring.significance.baseline is set (a pooled test set: its job's index).
    """
    directions = Q.significance_directions(config)
    pooled = {POOLED_INDEX["significance"].format(testset=t) for t, _ in directions}
    directions = [(t, p) for t, p in directions if t not in POOLED_TESTSETS]
    targets = [
        rules.score_significance.output[0].format(testset=t, pair=p, metric=m)
        for m in config["scoring"]["metrics"]
        for t, p in directions
    ]
    if COMET:
        targets += [
            rules.score_significance_comet.output[0].format(
                testset=t, pair=p, comet=COMET["name"]
            )
            for t, p in directions
        ]
    return targets + sorted(p for p in pooled if POOLED_TESTSETS)


def decode_targets():
    """Every hypothesis file of the evaluation (a pooled job: its index)."""
    return pooled_or(rules.decode_translate.output.hypotheses, index="decode")


def testset_targets():
    """Every evaluated direction's source and reference (a pooled fetch: its index)."""
    targets = []
    for testset, pair in Q.evaluated_directions(config):
        if testset in POOLED_FETCHES:
            targets.append(POOLED_INDEX["fetch"].format(testset=testset))
            continue
        for pattern in (
            rules.download_testset.output.source,
            rules.download_testset.output.reference,
        ):
            targets.append(pattern.format(testset=testset, pair=pair))
    return list(dict.fromkeys(targets))


def dialogue_targets():
    """Every (system, dialogue set) answer file."""
    return [
        rules.decode_dialogues.output.answers.format(system=s, dialogue_set=d)
        for s in Q.answering_systems(config)
        for d in DIALOGUE_SETS
    ]


def stage_downloads(wildcards):
    """What later stages fetch on the login node, for the `download` target: constraint
    sets and published constrained outputs, published BayLing-80 answers and reviews,
    benchmark items and released benchmark answers (their rule files define these lists
    after download.smk is included)."""
    return CONSTRAINED_DOWNLOADS + JUDGE_DOWNLOADS + KNOWLEDGE_DOWNLOADS
