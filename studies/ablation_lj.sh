#!/usr/bin/env bash
# The learning ablation of BENCHMARKS.md: train each studies/configs/lj-k5-*.yaml on data/lj (make it with
# `ogn dataset lj --out data/lj`), then evaluate each from 10 starts on the independent test trajectories.
set -euo pipefail
bin=${OGN:-.venv/bin/ogn}
for config in "${@:-studies/configs/lj-k5-total.yaml studies/configs/lj-k5-residual.yaml studies/configs/lj-k5-residual-noise.yaml}"; do
  for c in $config; do
    name=$(basename "$c" .yaml)
    [ -f "runs/$name/checkpoint.npz" ] || "$bin" train "$c" --out "runs/$name"
    "$bin" evaluate "runs/$name" --data data/lj --out "runs/$name/evaluation" --starts 10 --horizon 100 --long-steps 1000
  done
done
