#!/usr/bin/env bash
# The GPU figures (`make bench-gpu`): depth-stage, segment-stage and training throughput on a CUDA machine, with
# random-weight full-size architectures (no downloads: speed depends on the architecture only).
#   PY      the python to run (default .venv/bin/python)
#   OUTDIR  where each benchmark's log and JSON go (default out/bench-gpu)
# Each benchmark runs under its own time limit and the next one runs whatever happened to the last.
set -u
PY=${PY:-.venv/bin/python}
OUTDIR=${OUTDIR:-out/bench-gpu}
mkdir -p "$OUTDIR"
export PYTHONUNBUFFERED=1

run() {  # name limit_s command...
    local name=$1 limit=$2 start rc
    shift 2
    echo "== $name (limit ${limit} s): $*"
    start=$(date +%s)
    timeout "$limit" "$@" >"$OUTDIR/$name.log" 2>&1
    rc=$?
    echo "   $name: exit $rc after $(($(date +%s) - start)) s"
    grep -v -E "it/s\]|s/it\]" "$OUTDIR/$name.log" | tail -n 40
}

date -u +"%Y-%m-%dT%H:%M:%SZ"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
"$PY" -c "import sys, torch, transformers, datasets, pyarrow, numpy; import lift3d.build, lift3d.train, lift3d.segment, lift3d.depth
print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers',
      transformers.__version__, 'datasets', datasets.__version__, 'pyarrow', pyarrow.__version__, 'numpy', numpy.__version__)" \
    || exit 1
run depth "${DEPTH_LIMIT:-180}" "$PY" benchmarks/bench_depth.py --device cuda
run segment "${SEGMENT_LIMIT:-180}" "$PY" benchmarks/bench_segment.py --model sam2.1-hiera-base-plus --device cuda \
    --images 64 --json "$OUTDIR/segment.json"
run train "${TRAIN_LIMIT:-420}" "$PY" benchmarks/bench_train.py --model random-3b --steps 300 --scenes 64 \
    --width 640 --height 480 --json "$OUTDIR/train.json"
