#!/usr/bin/env bash
# The paper's datasets for every system (10 training + 2 test trajectories of 1000 + k_max steps each);
# k_max 40 for the metal systems, which serve k = 20 and the larger-k study (BENCHMARKS.md, Learning).
# Each dataset keeps the trajectories already complete, so this can be rerun after an interruption.
set -euo pipefail
bin=${OGN:-.venv/bin/ogn}
for preset in silicon cuzr silica; do
  [ -f "data/$preset/dataset.json" ] || "$bin" dataset "$preset" --out "data/$preset" --k-max 40
done
[ -f data/lj/dataset.json ] || "$bin" dataset lj --out data/lj
[ -f data/lj-glass/dataset.json ] || "$bin" dataset lj --glass --out data/lj-glass
