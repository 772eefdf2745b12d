"""Knowledge and understanding benchmarks (rules/knowledge.smk): AGIEval by generate and
extract as BayLing 1 ran it, multilingual multiple choice (XCOPA, Belebele) by the
log-likelihood of the options as lm-evaluation-harness scores it."""
