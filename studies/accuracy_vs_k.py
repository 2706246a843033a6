"""Our Fig. 5C: how the learned simulator's accuracy falls with its stride k, per system, next to MD run at
k dt (velocity Verlet with the same stride) and the trivial baselines. Reads `ogn evaluate` reports.

    python studies/accuracy_vs_k.py OUT.png EVALUATION_DIR ...

Each report gives one point: its system (the dataset's directory name, so the LJ liquid and glass are
apart) and training budget (one line per system and budget), its k, and issue 9's ratios after the horizon: position RMSE / the better of standing still and
constant velocity, velocity RMSE / sqrt(kB T / m). Prints a markdown table of the same numbers.
"""

import json
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib.ticker
from matplotlib import rcParams
from matplotlib.figure import Figure


def point(evaluation: Path) -> dict:
    m = json.loads((evaluation / "metrics.json").read_text())
    final, k = m["final_rmse"], m["k"]
    trivial = min(final[n]["position"] for n in ("standing still", "constant velocity") if final[n]["position"])
    md = final.get(f"MD at {k} dt", {})

    def ratio(value, scale):
        return None if value is None else value / scale

    return {
        "system": f"{Path(m['data']).name}, {m['training_step']} steps", "k": k, "run": Path(m["run"]).name, "horizon": m["horizon_md_steps"],
        "position": ratio(final["ogn"]["position"], trivial), "velocity": ratio(final["ogn"]["velocity"], m["velocity_scale"]),
        "md_position": ratio(md.get("position"), trivial), "md_velocity": ratio(md.get("velocity"), m["velocity_scale"]),
    }


def fmt(x) -> str:
    return "blew up" if x is None else f"{x:.3g}"


def main(out: str, evaluations: list[str]) -> None:
    points = [point(Path(e)) for e in evaluations]
    by_system = defaultdict(list)
    for p in sorted(points, key=lambda p: (p["system"], p["k"])):
        by_system[p["system"]].append(p)

    fig = Figure(figsize=(11, 6), layout="constrained")
    axes = fig.subplots(1, 2)
    for (system, ps), colour in zip(by_system.items(), rcParams["axes.prop_cycle"].by_key()["color"]):
        ks = [p["k"] for p in ps]
        for ax, key in zip(axes, ("position", "velocity")):
            ax.plot(ks, [p[key] if p[key] is not None else float("nan") for p in ps], "o-", color=colour,
                    label=f"{system}, learned")
            ax.plot(ks, [p[f"md_{key}"] if p[f"md_{key}"] is not None else float("nan") for p in ps], "x--",
                    color=colour, alpha=0.6, label=f"{system}, MD at k dt")
    for ax, key, target, scale in ((axes[0], "position", 0.1, "better trivial baseline"),
                                   (axes[1], "velocity", 0.2, "sqrt(kB T / m)")):
        ax.axhline(target, color="k", lw=0.8, ls=":", label=f"target {target}")
        ax.set(xscale="log", yscale="log", xlabel="stride k (MD steps per prediction)",
               ylabel=f"{key} RMSE after the horizon / {scale}")
        ax.set_xticks(sorted({p["k"] for p in points}), [str(k) for k in sorted({p["k"] for p in points})])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=7)
    fig.suptitle("Accuracy against the stride (our Fig. 5C); one trained model per point, one seed;"
                 " MD at k dt is missing where it blew up")
    fig.savefig(out, dpi=120)

    print("| system | k | run | horizon (MD steps) | position / better trivial | MD at k dt | velocity / sqrt(kB T/m) | MD at k dt |")
    print("|---|---|---|---|---|---|---|---|")
    for ps in by_system.values():
        for p in ps:
            print(f"| {p['system']} | {p['k']} | {p['run']} | {p['horizon']} | {fmt(p['position'])} | {fmt(p['md_position'])}"
                  f" | {fmt(p['velocity'])} | {fmt(p['md_velocity'])} |")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
