"""Training a model (paper 4.4).

    config.py   TrainConfig, RunConfig, load_config (YAML, validated on load)
    batches.py  PairData (a split on the device), the batch graphs of a step, the epoch schedule
    step.py     the compiled train and test steps, pure functions of state and data
    trainer.py  Trainer: the state, edge-capacity growth, checkpoints
    run.py      train_and_evaluate: a run directory from a config
"""

from ogn.train.config import RunConfig, TrainConfig, config_from_dict, load_config
from ogn.train.run import train_and_evaluate

__all__ = ["RunConfig", "TrainConfig", "config_from_dict", "load_config", "train_and_evaluate"]
