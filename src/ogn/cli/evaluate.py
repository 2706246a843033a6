"""`ogn evaluate`: a trained model rolled out against MD and the baselines; a report with figures."""

from __future__ import annotations

from pathlib import Path

from ogn.cli.common import console, logger, progress_bar


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="roll a trained model out against MD and baselines; report and figures")
    p.add_argument("run", help="trained run directory or shipped model")
    p.add_argument("--data", required=True, help="dataset directory; its test trajectories are the reference")
    p.add_argument("--out", help="report directory (default: evaluation-RUN-NAME in the working directory,"
                                 " numbered if taken)")
    p.add_argument("--starts", type=int, default=10, help="rollout starts spread over the test set (default 10)")
    p.add_argument("--horizon", type=int, default=100, help="MD steps per rollout for the RMSE (default 100)")
    p.add_argument("--long-steps", type=int, default=1000,
                   help="MD steps of the long rollouts (default 1000; shortened to the test trajectory's end when"
                        " ogn knows no potential for the system)")
    p.add_argument("--energy-starts", type=int, default=3,
                   help="long rollouts, from the first starts, whose energy change is averaged (default 3)")
    p.set_defaults(func=run, needs_x64=lambda args: True)


def run(args) -> int:
    from ogn.evaluate.report import evaluate_run

    out = args.out or str(default_evaluation_dir(args.run))
    s = evaluate_run(args.run, args.data, out, n_starts=args.starts, horizon=args.horizon,
                     long_steps=args.long_steps, energy_starts=args.energy_starts, log=logger(),
                     progress_factory=progress_bar)
    for name, r in s["final_rmse"].items():
        text = ("blew up" if r["position"] is None else
                f"position RMSE {r['position']:.4g}, velocity RMSE {r['velocity']:.4g}")
        console().print(f"  {name:>24}: {text} after {s['horizon_md_steps']} MD steps")
    console().print(f"  {s['verdict']['sentence']}")
    console().print(f"[bold]wrote[/bold] {out}/report.md")
    return 0


def default_evaluation_dir(run: str) -> Path:
    """evaluation-RUN in the working directory, numbered when taken: never the run's own committed report."""
    base = Path(f"evaluation-{Path(run).resolve().name}")
    out, n = base, 2
    while out.exists():
        out, n = Path(f"{base}-{n}"), n + 1
    return out
