# lift3d: two commands on a fresh machine.
#   make build-dataset   -> synthetic RGB-D scenes, then a 3D grounding + spatial QA corpus in $(OUT)
#   make test            -> the test suite
# Both create/refresh .venv (pinned by pyproject.toml + constraints.txt) when missing or stale.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lift3d-installed
OUT    ?= out/sample
SYNTH  ?= out/synth
SCENES ?= 32
SEED   ?= 0
EXECUTOR ?= ray
BUILD_ARGS ?=

.PHONY: all venv test build-dataset bench schema clean help

help:
	@echo "make build-dataset [OUT=dir SCENES=n SEED=s EXECUTOR=local|ray]  build the sample corpus"
	@echo "make test                                              run the test suite"
	@echo "make bench                                             run the benchmarks (figures -> docs/benchmarks.md)"

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0 -c constraints.txt
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,train,viz]'
	@touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

build-dataset: $(STAMP)
	$(BIN)/lift3d synth --scenes $(SCENES) --seed $(SEED) --out $(SYNTH)
	$(BIN)/lift3d build --config pipelines/sample.yaml --annotations $(SYNTH)/annotations.json \
		--images $(SYNTH) --out $(OUT) --executor $(EXECUTOR) --overwrite $(BUILD_ARGS)
	$(BIN)/python -c "import datasets; ds = datasets.load_dataset('$(OUT)', 'qa'); print(ds)"

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

schema: $(STAMP)
	$(BIN)/lift3d schema --export schemas

clean:
	rm -rf out .pytest_cache
