# Vigie: `make demo` and `make test` set everything up from pinned versions, then run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROTOS := $(wildcard protos/vigie/v1/*.proto)
GEN    := protos/vigie/v1/.gen-stamp

.PHONY: demo test lint bench gen clean screenshot

# The venv is rebuilt when pyproject.toml or the constraints change (stale), or when missing.
$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[dev]'
	@touch $@

# Python code for the vigie.v1 API is generated at build time (not committed), with type stubs.
$(GEN): $(PROTOS) $(STAMP) tools/gen_protos.py
	$(BIN)/python tools/gen_protos.py
	@touch $@

gen: $(GEN)

demo: $(GEN)
	$(BIN)/vigie demo $(ARGS)

screenshot: $(GEN)
	$(BIN)/vigie demo --screenshot screenshots --after 6

# ruff (with RUF100: no stale noqa), the layering contracts ([tool.importlinter]) and the type checks
# ([tool.mypy]) in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

test: $(GEN) lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(GEN)
	-$(BIN)/python bench/run.py $(ARGS)
	-$(BIN)/python bench/map_bench.py
	-$(BIN)/python bench/video_bench.py
	-$(BIN)/python bench/alarm_bench.py
	-$(BIN)/python bench/command_bench.py
	-$(BIN)/python bench/modes_bench.py

clean:
	rm -rf $(VENV) protos/vigie/v1/*_pb2*.py* $(GEN)
