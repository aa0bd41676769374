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

# Every benchmark runs; the target fails (non-zero) if any of them failed, naming them.
BENCHES := run map_bench video_bench alarm_bench command_bench cost_bench
bench: $(GEN)
	@failed=""; for b in $(BENCHES); do \
		echo "== bench/$$b.py"; \
		if [ $$b = run ]; then args="$(ARGS)"; else args=""; fi; \
		$(BIN)/python bench/$$b.py $$args || failed="$$failed $$b"; \
	done; \
	if [ -n "$$failed" ]; then echo "make bench: FAILED:$$failed" >&2; exit 1; fi

clean:
	rm -rf $(VENV) protos/vigie/v1/*_pb2*.py* $(GEN)
