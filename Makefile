# comp: make train FOLDS=5 trains the default recipe on the default competition, then writes a submission.
# The first target run creates .venv and installs comp into it; nothing else needs installing.

PY      ?= $(shell command -v python3.11 || command -v python3)
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
EXTRAS  ?= dev

COMP    ?= demo-digits
RECIPE  ?=
FOLDS   ?= 5
RUN     ?=
GPUS    ?=
SET     ?=
TTA     ?=
# SET="train.epochs=1 augment.mixup_alpha=0" becomes --set train.epochs=1 --set augment.mixup_alpha=0
SETS    := $(foreach s,$(SET),--set $(s))
RUNOPT  := $(if $(RUN),--run $(RUN))
RECIPEOPT := $(if $(RECIPE),--recipe $(RECIPE))
GPUOPT  := $(if $(GPUS),--gpus $(GPUS))
TTAOPT  := $(if $(TTA),--tta-level $(TTA))
PYTEST_ARGS ?=
# pytest-xdist workers: most tests build graphs on one core, so two workers halve the wall time on 2 cores
WORKERS ?= 2
BENCH_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install train predict test test-fast bench bench-pipeline bench-tta bench-scale gpu-check clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'
	@echo "  variables: COMP=$(COMP) RECIPE=$(if $(RECIPE),$(RECIPE),(comp train's default)) FOLDS=$(FOLDS) RUN= GPUS= SET=\"key=value ...\" TTA="

$(STAMP): pyproject.toml
	@test -n "$(PY)" || { echo "error: python3.11 not found; install Python 3.11 or pass PY=/path/to/python" >&2; exit 2; }
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP) ## create .venv and install comp (done automatically by the other targets)

train: $(STAMP) ## k-fold training + ensemble submission: make train [COMP=] [RECIPE=] [FOLDS=] [RUN=] [GPUS=0,1] [SET="k=v ..."]
	$(BIN)/comp train --competition $(COMP) $(RECIPEOPT) --folds $(FOLDS) $(RUNOPT) $(GPUOPT) $(SETS)
	$(BIN)/comp predict --competition $(COMP) $(RUNOPT) --ensemble $(TTAOPT)

predict: $(STAMP) ## ensemble the latest run's folds with TTA and write submissions/<comp>-<run>-<stamp>.csv
	$(BIN)/comp predict --competition $(COMP) $(RUNOPT) --ensemble $(TTAOPT)

test: $(STAMP) ## run the test suite (no GPU, no network), in $(WORKERS) worker processes
	$(BIN)/python -m pytest -q -n $(WORKERS) $(PYTEST_ARGS)

test-fast: $(STAMP) ## the suite without the tests marked slow (those that train for more than a few seconds)
	$(BIN)/python -m pytest -q -n $(WORKERS) -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP) ## all benchmarks (long): pipeline throughput, precision policies, time to accuracy
	$(BIN)/python -m tests.benchmarks.bench_pipeline
	$(BIN)/python -m tests.benchmarks.bench_precision
	$(BIN)/python -m tests.benchmarks.bench_time_to_accuracy --recipe fast

bench-pipeline: $(STAMP) ## input pipeline vs bare model.fit throughput (under 5 minutes)
	$(BIN)/python -m tests.benchmarks.bench_pipeline

bench-scale: $(STAMP) ## build, decode, train and predict at 32/128/224 px, in memory vs streamed (long): [BENCH_ARGS="--epochs 2"]
	$(BIN)/python -m tests.benchmarks.bench_scale $(BENCH_ARGS)

gpu-check: $(STAMP) ## on a GPU machine (under 5 minutes): devices, precision, XLA, pipeline ratio, input wait, a fold of fast, an epoch of large at 224 px
	$(BIN)/python -m tests.benchmarks.gpu_check $(BENCH_ARGS)

bench-tta: $(STAMP) ## a trained fold's validation accuracy at each TTA level: make bench-tta COMP=dacon-cifar10 [RUN=]
	$(BIN)/python -m tests.benchmarks.bench_tta --competition $(COMP) $(RUNOPT)

clean: ## remove .venv and Python caches (keeps data/, runs/, submissions/)
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
