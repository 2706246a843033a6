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
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p out
	$(BIN)/ogn md lj --steps 1000 --every 10 --seed 0 --out out/lj-demo.h5
	$(BIN)/ogn convert out/lj-demo.h5 out/lj-demo.extxyz

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench-md: $(STAMP)
	$(BIN)/ogn bench md

clean:
	rm -rf $(VENV) out
