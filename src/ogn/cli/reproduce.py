"""`ogn reproduce FIGURE`: data, training and evaluation for one of the paper's figures."""

from __future__ import annotations

from ogn.cli.common import console, logger, training_bar


def add_parser(sub) -> None:
    p = sub.add_parser("reproduce", help="data, training and evaluation for one of the paper's figures")
    p.add_argument("figure", choices=["fig2", "fig3", "fig4b", "fig5"],
                   help="fig2: OGN on LJ; fig3: OGN on silica, silicon, CuZr; fig4b: energy and momentum;"
                        " fig5: liquid vs glass")
    p.add_argument("--scale", choices=["quick", "paper"], default="quick",
                   help="quick (the default): minutes on a 2-core CPU, reduced budgets (said on the figures); paper: the"
                        " paper's settings (days on a GPU)")
    p.add_argument("--out", default="out/reproduce", help="output directory (default out/reproduce)")
    p.set_defaults(func=run, needs_x64=lambda args: False)


def run(args) -> int:
    from ogn.reproduce import reproduce

    fig_dir = reproduce(args.figure, args.scale, args.out, log=logger(), progress_factory=training_bar)
    console().print(f"[bold]wrote[/bold] {fig_dir}/README.md")
    return 0
