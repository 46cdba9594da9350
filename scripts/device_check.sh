#!/usr/bin/env bash
# Device check of the torch engine (issue "Scoring on GPUs: a CUDA engine, exact by default").
#
# Two steps. Here, with ../shared/data and the network:
#
#     bash scripts/device_check.sh prepare
#
# copies what the device machine lacks into tmp/device/ (ignored by git, ~56 MB, under the 64-MiB
# carry limit): the five OpenSpliceAI MANE 10000nt checkpoints, a 1-Mb slice of GRCh37 chr22
# (real sequence for the exactness check) and wheels of polars (1.33: one 40-MB wheel, where 2.x
# needs a 54-MB runtime wheel), pyfaidx and pytest (the device has torch, numba and pyarrow but
# no network). Then, on the device, carrying that folder (run tool: carry ["tmp/device"]):
#
#     bash scripts/device_check.sh run
#
# installs the wheels where missing, runs the GPU tests (pytest -m gpu) and the benchmark
# (benchmarks/bench_gpu.py: exactness on the device, >= 100 Mb in float32 and in bf16 unless
# --max-seconds stops a run first, ceilings, GRCh37 projection): one table, ~4-7 minutes. Files
# land in $OUT (bench_gpu.json, bench_gpu.txt, pytest_gpu.txt) when $OUT is set.
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=tmp/device
SHARED=${FASTBUILD_SHARED_DATA:-../shared/data}
FASTA=hisat2_22_20-21M.fa
OUTDIR=${OUT:-$DEV/out}

prepare() {
    mkdir -p "$DEV/models" "$DEV/fasta" "$DEV/wheels"
    cp "$SHARED"/openspliceai_models/mane/10000nt/*.pt "$DEV/models/"
    cp "$SHARED/human_grch37/$FASTA" "$DEV/fasta/"
    python -m pip download -q --only-binary=:all: --no-deps -d "$DEV/wheels" "polars>=1.0,<1.34"
    python -m pip download -q --only-binary=:all: -d "$DEV/wheels" pyfaidx pytest
    # what pytest needs on Python 3.10 only (pure wheels, whatever Python runs here)
    python -m pip download -q --only-binary=:all: --no-deps --python-version 3.10 --implementation py --abi none \
        --platform any -d "$DEV/wheels" tomli exceptiongroup typing_extensions
    du -sh "$DEV"
    local bytes
    bytes=$(du -sb "$DEV" | cut -f1)
    if [ "$bytes" -gt $((64 * 1024 * 1024)) ]; then
        echo "tmp/device is over the 64-MiB carry limit" >&2
        exit 1
    fi
}

install_missing() {
    local missing=()
    for mod in polars pyfaidx pytest; do
        python -c "import $mod" 2>/dev/null || missing+=("$mod")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        python -m pip install -q --no-index --find-links "$DEV/wheels" "${missing[@]}"
    fi
}

run() {
    [ -d "$DEV/models" ] || { echo "no $DEV/models: run 'bash scripts/device_check.sh prepare' here first" >&2; exit 1; }
    mkdir -p "$OUTDIR" "$DEV/path"
    install_missing
    # the repository is not installed there: fastbuild from the root, fastbuild_kernels is kernels/
    ln -sfn "$PWD/kernels" "$DEV/path/fastbuild_kernels"
    export PYTHONPATH="$PWD:$PWD/$DEV/path${PYTHONPATH:+:$PYTHONPATH}"
    nvidia-smi -L || true
    python -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.is_available())"
    python -c "from fastbuild.basemodel.backends import check_backend as c; print('auto runs', c('auto'), '/ bf16:', c('auto', 'bf16'))"
    timeout 150 python -m pytest -q -p no:cacheprovider -o addopts="" -m gpu tests/basemodel/test_torch_backend.py \
        2>&1 | tee "$OUTDIR/pytest_gpu.txt" || echo "GPU tests failed or timed out (see above)"
    timeout 420 python benchmarks/bench_gpu.py --model "$DEV/models" --fasta "$DEV/fasta/$FASTA" --max-seconds 120 \
        --json "$OUTDIR/bench_gpu.json" "$@" 2>&1 | tee "$OUTDIR/bench_gpu.txt"
}

case "${1:-run}" in
    prepare) prepare ;;
    run) shift || true; run "$@" ;;
    *) echo "usage: bash scripts/device_check.sh prepare|run [bench_gpu.py options]" >&2; exit 2 ;;
esac
