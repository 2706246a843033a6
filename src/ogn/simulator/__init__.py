"""The learned simulator: a trained model applied again and again, k MD steps per prediction.

    step.py        learned_step(model, box, ...) -> Simulator(init_fn, step_fn, refit_fn) over SimulatorState
    wrappers.py    thermostatted(...), energy_corrected(...): a Simulator in, a Simulator out
    thermostats.py the Langevin and CSVR half steps
    driver.py      Driver: chunks of compiled steps, host checks, observers (attach(observer, interval))
    observers.py   what a rollout keeps, shows and checks while it runs
    checks.py      refusals and warnings before a rollout, one set for every caller
    session.py     RolloutConfig, LearnedSimulator (all of the above for one set of atoms), rollout()
    summary.py     the physics summary after a rollout
    files.py       `ogn rollout`: a start from a file, a trajectory file out
    ase.py         OGNDynamics, the same simulator as an ASE dynamics
    cache.py       the persistent compilation cache
"""

from ogn.simulator.driver import Driver, Frames, RolloutError
from ogn.simulator.session import LearnedSimulator, Rollout, RolloutConfig, rollout
from ogn.simulator.step import Simulator, SimulatorState, StepReport, learned_step

__all__ = ["Driver", "Frames", "LearnedSimulator", "Rollout", "RolloutConfig", "RolloutError", "Simulator",
           "SimulatorState", "StepReport", "learned_step", "rollout"]
