# Two entry points: `make demo` runs the main job on an embedded default, `make test` runs the tests.
# Each creates .venv when it is missing and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ogn-installed

.PHONY: demo test test-slow bench-md clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# `source .venv/bin/activate` also tells LAMMPS where its potentials are (Cu_u3.eam of the copper example)
	grep -q LAMMPS_POTENTIALS $(BIN)/activate || \
	  echo 'export LAMMPS_POTENTIALS="$${LAMMPS_POTENTIALS:-'"$$($(BIN)/ogn info --potentials)"'}"' >> $(BIN)/activate
	touch $(STAMP)

# The LJ Fast-OGN pipeline end to end: data, training (or the shipped model when there is one), evaluation.
SHIPPED := models/lj-fast-k5
demo: $(STAMP)
	mkdir -p out
	$(BIN)/ogn dataset lj --out out/lj-demo-data --trajectories 2 --test-trajectories 1 --steps 300 --k-max 5
	if [ -f $(SHIPPED)/checkpoint.npz ]; then run=$(SHIPPED); else \
	  run=out/lj-demo-run; resume=; [ -f $$run/checkpoint.npz ] && resume=--resume; \
	  $(BIN)/ogn train configs/lj-fast-quick.yaml --out $$run $$resume || exit 1; fi; \
	$(BIN)/ogn evaluate $$run --data out/lj-demo-data --out out/lj-demo-report --starts 3 --long-steps 500
	$(BIN)/ogn convert out/lj-demo-data/test/traj-000.h5 out/lj-demo-md.extxyz --frames 0:100
	@echo "report: out/lj-demo-report/report.md"

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench-md: $(STAMP)
	$(BIN)/ogn bench md --out BENCHMARKS.md

clean:
	rm -rf $(VENV) out
