"""Bit-for-bit check of a refactoring: every shipped model's rollouts (NVE from its reference start, the
same start tiled 2 x 2 x 2 for the cell-list path, and a CSVR rollout) written to an .npz, and two such files
compared. Run it before and after a change on the same machine: identical means the change kept behaviour
to the last bit (another CPU sums in another order, so compare only files made on one machine).

    python scripts/rollout_fingerprint.py write BEFORE.npz
    python scripts/rollout_fingerprint.py write AFTER.npz
    python scripts/rollout_fingerprint.py compare BEFORE.npz AFTER.npz
"""

import sys
from pathlib import Path

import numpy as np

from ogn.model.checkpoint import load_run
from ogn.periodic import box_sides
from ogn.simulator import RolloutConfig, rollout

sys.path.insert(0, str(Path(__file__).parent))
from shipped_reference import MODELS, start_state


def write(out: str) -> None:
    arrays = {}
    for run in sorted(p for p in MODELS.iterdir() if (p / "checkpoint.npz").is_file()):
        model, info, _ = load_run(run)
        r, v, s = start_state(info)
        box, k = box_sides(info["system"]["box"]), int(info["k"])
        quiet = {"log": lambda m: None}
        runs = {"nve": rollout(model, info, r, v, s, box, 10 * k, **quiet)}
        csvr = RolloutConfig(thermostat="csvr", temperature=info["system"]["temperature"], damping=100 * info["dt"],
                             seed=3)
        runs["csvr"] = rollout(model, info, r, v, s, box, 6 * k, csvr, **quiet)
        shifts = np.stack(np.meshgrid(*[np.arange(2)] * 3, indexing="ij"), -1).reshape(-1, 3) * box
        tiled = ((r[None] + shifts[:, None]).reshape(-1, 3), np.tile(v, (8, 1)), np.tile(s, 8))
        runs["tiled"] = rollout(model, info, *tiled, 2 * box, 4 * k, **quiet)
        for name, result in runs.items():
            arrays[f"{run.name}/{name}/positions"] = result.positions
            arrays[f"{run.name}/{name}/velocities"] = result.velocities
        print(run.name, flush=True)
    np.savez(out, **arrays)


def compare(before: str, after: str) -> int:
    a, b = np.load(before), np.load(after)
    different = 0
    for key in sorted(set(a.files) | set(b.files)):
        if key not in a.files or key not in b.files:
            print(f"{key}: only in {'the first' if key in a.files else 'the second'}")
            different += 1
        elif not np.array_equal(a[key], b[key]):
            print(f"{key}: differs by up to {np.abs(a[key].astype(np.float64) - b[key]).max():.3g}")
            different += 1
    print("identical" if not different else f"{different} arrays differ")
    return int(different > 0)


if __name__ == "__main__":
    if sys.argv[1:2] == ["write"] and len(sys.argv) == 3:
        write(sys.argv[2])
    elif sys.argv[1:2] == ["compare"] and len(sys.argv) == 4:
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
