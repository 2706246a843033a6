"""The README's command blocks run as written, in the venv as its activation line says: the worked copper
example and the LAMMPS example. The only change a test makes to a command is an option appended to make
it small (fewer MD steps, training steps or predictions), so an edit of the README that breaks a command
breaks this test."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ACTIVATE = ROOT / ".venv" / "bin" / "activate"


def readme_block(marker: str) -> list[str]:
    """The commands of the README's ```sh block that contains `marker`, continuation lines joined."""
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)
    block = next(b for b in blocks if marker in b)
    return [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def run_in_venv(commands: list[str], cwd: Path, timeout: int) -> str:
    """`commands` in one bash, after `source .venv/bin/activate`, from `cwd`; the output, or a failure."""
    script = "\n".join(["set -e", f"source {ACTIVATE}", f"cd {cwd}", *commands])
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=timeout, check=False,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "OGN_CACHE_DIR": "off"})
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run.stdout + run.stderr


def _small(command: str, sizes: dict[str, str]) -> str:
    """`command` with the option for its size appended (argparse and LAMMPS take an option's last value),
    before any trailing comment; the README's own text is kept."""
    code, hash_, comment = command.partition(" #")
    for prefix, option in sizes.items():
        if code.startswith(prefix):
            code = code.replace("; done", f" {option}; done") if "; done" in code else f"{code.rstrip()} {option}"
            break
    return code + (f" #{comment}" if hash_ else "")


needs_venv = pytest.mark.skipif(not ACTIVATE.exists(), reason="the README's commands run in the project's .venv")


@needs_venv
@pytest.mark.slow  # about 80 s on 2 cores: `make test-slow`
def test_the_worked_copper_example_runs_as_written(tmp_path):
    commands = readme_block("cd examples/copper")
    assert commands[0] == "cd examples/copper"
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    sizes = {"for ": "-var steps 300", "ogn train": "--steps 40", "ogn evaluate": "--horizon 60 --energy-starts 1",
             "ogn rollout": "--steps 200"}
    run_in_venv([_small(c, sizes) for c in commands], tmp_path, timeout=1200)
    copper = tmp_path / "examples" / "copper"
    assert (copper / "evaluation-run" / "report.md").exists()  # evaluate's default: evaluation-RUN, here
    for name in ("nve.extxyz", "nvt.extxyz"):
        assert (copper / name).stat().st_size > 0


@needs_venv
@pytest.mark.slow  # about 110 s on 2 cores
def test_the_lammps_example_runs_as_written(tmp_path):
    commands = readme_block("ogn lammps lj-fast-k5 --in in.lj")
    assert commands[0] == "cd examples/lj-lammps"
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    out = run_in_venv(commands, tmp_path, timeout=900)
    assert out.count("Loop time") >= 4  # NVE and CSVR runs, on one rank and on two


def test_every_python_import_the_readme_shows_works():
    import importlib

    shown = re.findall(r"from (ogn[\w.]*) import (\w+)", (ROOT / "README.md").read_text())
    assert shown
    for module, name in shown:
        assert hasattr(importlib.import_module(module), name), f"README: from {module} import {name}"
