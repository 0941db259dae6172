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
SYNTH_VAL ?= out/synth-val
SCENES ?= 32
VAL_SCENES ?= 8
SEED   ?= 0
EXECUTOR ?= ray
BUILD_ARGS ?=

.PHONY: all venv test build-dataset bench bench-gpu schema clean help

help:
	@echo "make build-dataset [OUT=dir SCENES=n VAL_SCENES=n SEED=s EXECUTOR=local|ray]  build the sample corpus"
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

# train: scenes 0..SCENES-1; validation: the next VAL_SCENES scenes (scene = f(seed, index): disjoint scenes)
build-dataset: $(STAMP)
	$(BIN)/lift3d synth --scenes $(SCENES) --seed $(SEED) --out $(SYNTH)
	$(BIN)/lift3d synth --scenes $(VAL_SCENES) --seed $(SEED) --start-id $(SCENES) --out $(SYNTH_VAL)
	$(BIN)/lift3d build --config pipelines/sample.yaml --annotations $(SYNTH)/annotations.json \
		--images $(SYNTH) --out $(OUT) --split train --executor $(EXECUTOR) --overwrite $(BUILD_ARGS)
	$(BIN)/lift3d build --config pipelines/sample.yaml --annotations $(SYNTH_VAL)/annotations.json \
		--images $(SYNTH_VAL) --out $(OUT) --split validation --executor $(EXECUTOR) --overwrite $(BUILD_ARGS)
	$(BIN)/python -c "import datasets; ds = datasets.load_dataset('$(OUT)', 'qa'); print(ds)"

# CPU benchmarks as recorded in docs/benchmarks.md (tens of minutes on 2 cores). On a GPU machine add
# `make bench-gpu`. Optional: `pip install '.[bench]'` for the open3d baseline in bench_lift (else it is skipped).
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_synth.py --scenes 40
	$(BIN)/python benchmarks/bench_ingest.py --sizes 100000,400000 --old 100000 --stream 100
	$(BIN)/python benchmarks/bench_pipeline.py --parts cost,steps,scaling,memory --small 20 --large 400
	$(BIN)/python benchmarks/bench_lift.py --seed 1000 --scenes 20 --per-category
	$(BIN)/python benchmarks/bench_lift.py --seed 1000,2000,3000,4000 --scenes 40 --no-baseline
	$(BIN)/python benchmarks/bench_lift_headroom.py --seed 1000 --scenes 20
	$(BIN)/python benchmarks/bench_qa.py --scenes 150 --seed 1000 --speed-images 2000
	$(BIN)/python benchmarks/bench_truth.py --scenes 40 --seed 1000
	$(BIN)/python benchmarks/bench_truth.py --scenes 40 --seed 1000,1100,1200,1300
	$(BIN)/python benchmarks/bench_scale.py --scene-types indoor,outdoor --seed 5000,6000,7000,8000 --scenes 30
	$(BIN)/python benchmarks/bench_depth.py --models small,base --images 8,4 --batch-size 4
	$(BIN)/python benchmarks/bench_segment.py --tiny --images 8 --quality-scenes 20
	$(BIN)/python benchmarks/bench_train.py --steps 100

bench-gpu: $(STAMP)
	PY=$(BIN)/python benchmarks/bench_gpu.sh

schema: $(STAMP)
	$(BIN)/lift3d schema --export schemas

clean:
	rm -rf out .pytest_cache
