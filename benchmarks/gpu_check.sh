#!/usr/bin/env bash
# The GPU check of issue 6, in one script of about 3 minutes on one GPU:
#   1. `cnnbench bench --device cuda`: every component beside its PyTorch built-in (float32, both default
#      shapes; bfloat16 for pooling, activations and losses on the large one), synchronised timing;
#   2. a 1-epoch `cnnbench run` on CUDA with bf16 autocast and channels_last (LeNet-5 on the bundled digits);
#   3. the CUDA tests: the bench's GPU tests and the conformance kit's `cuda` check of every component;
#   4. when $DATA holds mnist/ and cifar10-subset/ (26 MB: carry a copy of ../shared/data's into the ignored data/):
#      the loop against a plain CUDA loop (CUDA events; fp32 and bf16), LeNet-5/MNIST in fp32, bf16 and fp16
#      (the gradient scaler), and the AlexNet-style model on the CIFAR-10 subset in bf16.
# Everything lands in $OUT (default results/gpu-check): one log per step and records.tar.gz, the bench and
# run records (few files, as a device machine returns at most 8); read them with
#   mkdir -p results/gpu && tar -xzf records.tar.gz -C results/gpu && cnnbench report --results results/gpu
# Run from the repository root:
#   bash benchmarks/gpu_check.sh
#   DEVICE=cpu BENCH_ARGS="--shape 4,4,8,8" bash benchmarks/gpu_check.sh     # a quick try without a GPU
# Where cnnbench is not installed (a bare GPU machine with torch), it is installed without dependencies
# into a temporary folder; hydra-core, omegaconf and antlr4 come from .whl/ if they are missing there:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux2014_x86_64 -d .whl hydra-core==1.3.8 omegaconf==2.3.1
#   pip wheel --no-deps -w .whl antlr4-python3-runtime==4.9.3
set -uo pipefail

OUT=${OUT:-results/gpu-check}
DEVICE=${DEVICE:-cuda}
DATA=${DATA:-data}
read -r -a BENCH_ARGS <<< "${BENCH_ARGS:-}"
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 CNNBENCH_RESULTS="$OUT/results"
status=0

if ! "$PYTHON" -c "import hydra, omegaconf" 2>/dev/null; then
    [ -d .whl ] || { echo "hydra-core/omegaconf missing and no .whl/ folder (see the header)"; exit 2; }
    "$PYTHON" -m pip install -q --no-index --no-deps --target /tmp/cnnbench-deps .whl/*.whl || exit 2
    export PYTHONPATH=/tmp/cnnbench-deps${PYTHONPATH:+:$PYTHONPATH}
fi
if ! "$PYTHON" -c "import cnnbench_plugins, cnnbench.bench.cli" 2>/dev/null; then
    "$PYTHON" -m pip install -q --no-deps --no-build-isolation --target /tmp/cnnbench-site . || exit 2
    export PYTHONPATH=/tmp/cnnbench-site${PYTHONPATH:+:$PYTHONPATH}
fi

step() {  # step NAME COMMAND...: run, keep its log, remember a failure, go on
    local name=$1
    shift
    echo "== $name: $*"
    local start=$SECONDS
    "$@" 2>&1 | tee "$OUT/$name.log"
    local code=${PIPESTATUS[0]}
    echo "== $name: exit $code in $((SECONDS - start)) s"
    [ "$code" -eq 0 ] || status=1
}

step environment "$PYTHON" -c "import torch, cnnbench; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'device', torch.cuda.get_device_name() if torch.cuda.is_available() else None, 'cnnbench', cnnbench.__version__)"
step bench "$PYTHON" -m cnnbench.cli bench --device "$DEVICE" --repeats 3 --min-time 0.02 "${BENCH_ARGS[@]}"
step bench_bf16 "$PYTHON" -m cnnbench.cli bench pooling activation loss --device "$DEVICE" --dtype bfloat16 --repeats 3 --min-time 0.02 "${BENCH_ARGS[@]:---shape=128,64,32,32}"
step run "$PYTHON" -m cnnbench.cli run "trainer.device=$DEVICE" trainer.precision=bf16 trainer.channels_last=true trainer.epochs=1 trainer.progress=false
step tests "$PYTHON" -m pytest -q -p no:cacheprovider tests/bench/test_cli.py tests/test_conformance.py -k "cuda or gpu" -rs
if [ -d "$DATA/mnist" ]; then
    step loop_fp32 "$PYTHON" benchmarks/overhead.py --device "$DEVICE" --data-root "$DATA" --limit 54000 --repeats 3
    step loop_bf16 "$PYTHON" benchmarks/overhead.py --device "$DEVICE" --data-root "$DATA" --limit 54000 --repeats 3 --precision bf16
    for precision in fp32 bf16 fp16; do
        step "lenet_mnist_$precision" "$PYTHON" -m cnnbench.cli run experiment=lenet_mnist "data.root=$DATA" "trainer.device=$DEVICE" "trainer.precision=$precision" trainer.progress=false
    done
fi
if [ -d "$DATA/cifar10" ] || [ -d "$DATA/cifar10-subset" ]; then
    step alexnet_cifar10_bf16 "$PYTHON" -m cnnbench.cli run experiment=alexnet_cifar10 "data.root=$DATA" "trainer.device=$DEVICE" trainer.precision=bf16 trainer.channels_last=true trainer.progress=false
fi
tar -czf "$OUT/records.tar.gz" -C "$OUT" results && rm -rf "$OUT/results"
echo "== all steps done, exit $status; outputs in $OUT"
exit $status
