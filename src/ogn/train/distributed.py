"""Training across processes and hosts (`ogn train --distributed`): one process per host or per GPU,
started by SLURM's `srun` or by `mpirun`, joined by `jax.distributed`.

Every process loads the dataset and draws the same batches (one seed); the data-parallel step
(`ogn.train.step`) shards each batch over the devices of all processes, so one step on P processes equals
the one-process step on as many devices to float32 rounding. Process 0 alone writes the run directory
and logs; a stop signal on any process stops all of them at the same step (the flags are gathered).
"""

from __future__ import annotations

import os

import jax
import numpy as np


def start_distributed() -> None:
    """Join the other processes of this run, found by JAX (SLURM, Open MPI) or, under the mpich wheel's
    `mpirun`, through mpi4py. Must run before anything asks JAX for its devices."""
    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU devices talk through gloo
    if "SLURM_NTASKS" in os.environ or "OMPI_COMM_WORLD_SIZE" in os.environ:
        jax.distributed.initialize()
    elif "PMI_SIZE" in os.environ:  # MPICH's hydra (the mpich wheel's mpirun)
        jax.distributed.initialize(cluster_detection_method="mpi4py")
    else:
        raise ValueError("--distributed: no SLURM, Open MPI or MPICH launcher in the environment; start every"
                         " process with srun (SLURM) or mpirun -np N ogn train ... --distributed")


def is_writer() -> bool:
    """The process that writes the run directory and logs (process 0; the only one without --distributed)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Every process waits here for all the others (no-op on one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def any_process(flag: bool) -> bool:
    """Whether `flag` is true on any process (one tiny collective; `flag` itself on one process)."""
    if jax.process_count() == 1:
        return flag
    from jax.experimental import multihost_utils

    return bool(np.max(multihost_utils.process_allgather(np.int32(flag))))
