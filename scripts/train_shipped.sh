#!/usr/bin/env bash
# Make the data and train a shipped model: scripts/train_shipped.sh CONFIG RUN_DIR [DATASET ARGS...]
#   scripts/train_shipped.sh configs/lj-fast-cpu.yaml models/lj-fast-k5 lj
# Runs on whatever JAX sees (GPU when there is one). Resumes when RUN_DIR already holds a checkpoint.
set -euo pipefail
config=$1 run=$2; shift 2
data=$(sed -n 's/^data: *//p' "$config")
bin=${OGN:-.venv/bin/ogn}
[ -f "$data/dataset.json" ] || "$bin" dataset "$@" --out "$data"
resume=(); [ -f "$run/checkpoint.npz" ] && resume=(--resume)
"$bin" train "$config" --out "$run" "${resume[@]}"
