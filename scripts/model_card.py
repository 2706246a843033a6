"""Write RUN/MODEL_CARD.md from what the run and its evaluation recorded (run.json, config.yaml,
evaluation/metrics.json), plus free-text notes on how it was trained.

    .venv/bin/python scripts/model_card.py RUN_DIR "how it was trained (hardware, command)"
"""

import json
import sys
from pathlib import Path

run = Path(sys.argv[1])
notes = sys.argv[2] if len(sys.argv) > 2 else ""
info = json.loads((run / "run.json").read_text())
m = json.loads((run / "evaluation" / "metrics.json").read_text())
spec = info["dataset_spec"]
lines = [
    f"# Model card: `{run.name}`",
    "",
    f"Fast-OGN for `{info['system']['name']}`: k = {info['k']} MD steps per prediction (dt = {info['dt']}).",
    "",
    "## Training",
    (f"- data: `ogn dataset {info['system']['name']}` ({spec['trajectories']} trajectories x {spec['steps']} steps,"
    f" {spec['test_trajectories']} independent test trajectories), engine {spec['engine']}"),
    (f"- config: [config.yaml](config.yaml); {info['step']} gradient steps ({info['epoch']:.1f} epochs),"
    f" final test loss {info['test_loss']:.4g}; curve: [curve.csv](curve.csv), ![curve](curve.png)"),
    f"- wall time {info['wall_time_s'] / 3600:.2f} h on {info['device']} (jax {info['jax_version']})",
    f"- {notes}",
    "",
    "## Evaluation (`ogn evaluate`, [report](evaluation/report.md))",
    f"- {m['starts']} starts on independent test trajectories; RMSE = {m['rmse_definition']}",
    (f"- cage length {m['cage_length']:.3g} {m['units']['length']}, velocity scale sqrt(kB T / m)"
     f" {m['velocity_scale']:.3g} {m['units']['velocity']}"),
    "",
    f"**Verdict.** {m['verdict']['sentence']}",
    "",
    (f"| after {m['horizon_md_steps']} MD steps (mean ± spread over starts) | position RMSE ({m['units']['length']})"
     f" | velocity RMSE ({m['units']['velocity']}) |"),
    "|---|---|---|",
]


def fmt(x, e):
    return "blew up" if x is None else f"{x:.4g} ± {e:.2g}"


for name, r in m["final_rmse"].items():
    e = m["final_rmse_spread"][name]
    lines.append(f"| {name} | {fmt(r['position'], e['position'])} | {fmt(r['velocity'], e['velocity'])} |")
long = m["long_rollout"]
if long.get("ogn_blew_up_at"):
    text = f"blew up: {long['ogn_blew_up_at']}"
else:
    text = (f"finite; total-energy change {long['ogn_total_energy_drift_per_atom'] / m['thermal_energy']:.3g} kB T"
            f" per atom; total momentum constant to {long['ogn_momentum_change'] / m['thermal_momentum']:.1e}"
            " sqrt(N m kB T)")
lines += ["", f"Long rollout ({long['steps']} MD steps): {text}."]
(run / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")
print((run / "MODEL_CARD.md").read_text())
