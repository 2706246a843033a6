"""`ogn train`: a model trained into a run directory."""

from __future__ import annotations

from pathlib import Path

from ogn.cli.common import STOP, add_xla_flags, console, training_bar


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train an OGN / Fast-OGN (paper 4.4) into a run directory")
    p.add_argument("config", help="YAML config (see configs/); a shipped config also by its name (fast.yaml)")
    p.add_argument("--data", help="dataset directory (overrides the config's `data`)")
    p.add_argument("--out", help="run directory (default runs/CONFIG-NAME)")
    p.add_argument("--steps", type=int, help="gradient steps (overrides train.steps; default: the config's)")
    p.add_argument("--k", type=int, help="MD steps per prediction, a multiple of the dataset's frame stride"
                                         " (overrides train.k; default: the config's)")
    p.add_argument("--devices", type=int,
                   help="data parallel over this many devices (overrides train.devices; default: the config's, 1): each"
                        " takes an equal part of every batch. On a CPU-only machine ogn makes N host devices, which"
                        " measures the overhead only: the cores are shared")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--distributed", action="store_true",
                   help="one process of a run across processes or hosts, started by srun (SLURM) or mpirun -np N"
                        " (jax.distributed): every batch is shared over the devices of all processes (--devices"
                        " defaults to all of them) and process 0 writes the run directory (default: off, one"
                        " process)")
    p.set_defaults(func=run, needs_x64=lambda args: False, gentle_stop=True)


def run(args) -> int:
    if args.distributed:
        from ogn.train.distributed import start_distributed

        start_distributed()
        STOP.install(gentle=True)  # jax.distributed's preemption notifier took SIGTERM over: ours stops cleanly
        import jax

        args.devices = args.devices or jax.device_count()
    elif args.devices is not None:
        host_devices(args.devices)
    from ogn.train import load_config, train_and_evaluate
    from ogn.train.distributed import is_writer

    config = load_config(args.config, data=args.data, steps=args.steps, k=args.k, devices=args.devices)
    if not args.distributed:
        host_devices(config.train.devices)
    out = args.out or str(Path("runs") / Path(args.config).stem)
    writer = is_writer()  # the other processes of a distributed run train silently
    info = train_and_evaluate(config, out, resume=args.resume, log=console().log if writer else lambda *a: None,
                              progress_factory=training_bar if writer else None, stop_requested=STOP,
                              source=args.config)
    if not writer:
        return 0
    console().print(f"[bold]trained[/bold] {out}: {info['step']} steps, test loss {info['test_loss']:.4g}, "
                    f"{info['wall_time_s']:.0f} s on {info['device']}")
    return 0


def host_devices(n: int) -> None:
    """Make JAX's CPU platform show `n` devices (GPUs ignore the flag)."""
    if n > 1:
        add_xla_flags(f"--xla_force_host_platform_device_count={n}")
