# `make demo`: set everything up and run the main job.  `make test`: set up and run the whole check.
PY ?= python3

.PHONY: setup demo test lint bench

setup:
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"

demo: setup
	$(PY) -m rnnkit train

lint:
	$(PY) -m ruff check rnnkit tests benchmarks examples

test: setup lint
	$(PY) -m pytest --doctest-modules rnnkit tests

bench: setup
	$(PY) benchmarks/bench_lstm.py
