"""Benchmarks, as users run the commands; results replace sections of BENCHMARKS.md (or the file --out names).

    common.py   the machine, the Markdown section, a liquid start by LAMMPS, the MD engines timed
    md.py       `ogn bench md`
    train.py    `ogn bench train`
    rollout.py  `ogn bench rollout`: the learned simulator against MD
"""

from ogn.bench.common import machine_description, prepare_liquid, replace_section, time_jax, time_lammps
from ogn.bench.md import bench_md
from ogn.bench.rollout import bench_rollout, prediction_flops, shipped_runs, time_ogn, time_ogn_command
from ogn.bench.train import bench_train

__all__ = ["bench_md", "bench_rollout", "bench_train", "machine_description", "prediction_flops", "prepare_liquid",
           "replace_section", "shipped_runs", "time_jax", "time_lammps", "time_ogn", "time_ogn_command"]
