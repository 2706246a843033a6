"""Issue 9's targets for evaluated runs, one row each: the run's recipe, then its `ogn evaluate` report's
RMSE after the horizon (mean ± spread over the starts), as fractions of the better trivial baseline
(position) and of sqrt(kB T / m) (velocity), and the long rollout's energy change and momentum.

    python studies/target_table.py RUN=EVALUATION_DIR ...   (EVALUATION_DIR defaults to RUN/evaluation)
"""

import json
import sys
from pathlib import Path

import yaml


def row(run: Path, evaluation: Path) -> str:
    config = yaml.safe_load((run / "config.yaml").read_text())
    info = json.loads((run / "run.json").read_text())
    m = json.loads((evaluation / "metrics.json").read_text())
    model = {"targets": "total", "network": "ogn"} | config["model"]
    final, spread, checks = m["final_rmse"], m["final_rmse_spread"], m["verdict"]["checks"]
    ogn, unit = final["ogn"], m["units"]
    long = m["long_rollout"]
    trivial = min(final[n]["position"] for n in ("standing still", "constant velocity") if final[n]["position"])
    energy = f"{checks['energy']:.3g}" if "energy" in checks else "n/a"
    momentum = long.get("ogn_momentum_change")
    momentum = "blew up" if momentum is None else f"{momentum / m['thermal_momentum']:.1e}"
    decay = int(config["train"]["lr_decay_steps"])
    if ogn["position"] is None:
        return f"| {run.name} | {m['k']} | {model['targets']} | {info['step']} | {decay} | blew up | | | | | |"
    return (f"| {run.name} | {m['k']} | {model['targets']} | {info['step']} | {decay} | {info['wall_time_s'] / 60:.0f} min"
            f" | {ogn['position']:.4g} ± {spread['ogn']['position']:.2g} {unit['length']} (trivial {trivial:.3g})"
            f" | **{checks['position']:.3g}** | {ogn['velocity']:.4g} ± {spread['ogn']['velocity']:.2g}"
            f" | **{checks['velocity']:.3g}** | **{energy}** | {momentum} |")


def main(args: list[str]) -> None:
    print("| run | k | targets | steps | LR 10x per (steps) | training | position RMSE after the horizon | / better trivial (target"
          " <= 0.1) | velocity RMSE | / sqrt(kB T / m) (target <= 0.2) | abs. energy change over the long rollout,"
          " kB T per atom (target <= 0.1) | largest momentum change / sqrt(N m kB T) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for arg in args:
        run, _, evaluation = arg.partition("=")
        print(row(Path(run), Path(evaluation) if evaluation else Path(run) / "evaluation"))


if __name__ == "__main__":
    main(sys.argv[1:])
