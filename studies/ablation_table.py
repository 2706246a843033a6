"""The ablation table of BENCHMARKS.md from evaluated runs: one-prediction error on the independent test
pairs (studies/one_step_error.py's measure), and the report's 100-MD-step RMSE (mean ± spread over its
starts), its long rollout's energy change and the training's wall time.

    python studies/ablation_table.py data/lj runs/lj-k5-total runs/lj-k5-residual ...
"""

import json
import sys
from pathlib import Path

import yaml
from one_step_error import one_step_errors


def main(data: str, runs: list[str]) -> None:
    print("| run | targets | network | noise | unroll | batch | steps | wall time | one prediction: position"
          " / true change | velocity / true change | 100 MD steps: position RMSE | velocity RMSE |"
          " energy change over 1000 MD steps (kB T per atom) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        run = Path(run)
        config = yaml.safe_load((run / "config.yaml").read_text())
        info = json.loads((run / "run.json").read_text())
        m = json.loads((run / "evaluation" / "metrics.json").read_text())
        position, velocity = one_step_errors(data, str(run))
        final, spread = m["final_rmse"]["ogn"], m["final_rmse_spread"]["ogn"]
        energy = m["long_rollout"]["ogn_total_energy_drift_per_atom"] / m["thermal_energy"]
        # settings a config predates have their defaults (the paper's choices)
        model = {"targets": "total", "network": "ogn"} | config["model"]
        train = {"noise": 0.0, "unroll": 1} | config["train"]
        print(f"| {run.name} | {model['targets']} | {model['network']} | {train['noise']} | {train['unroll']}"
              f" | {train['batch_size']} | {info['step']} | {info['wall_time_s'] / 60:.0f} min | {position:.4f}"
              f" | {velocity:.4f} | {final['position']:.4f} ± {spread['position']:.4f}"
              f" | {final['velocity']:.3f} ± {spread['velocity']:.3f} | {energy:.3g} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
