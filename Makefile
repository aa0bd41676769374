# Vigie: `make demo` and `make test` set everything up from pinned versions, then run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROTOS := $(wildcard protos/vigie/v1/*.proto)
GEN    := protos/vigie/v1/.gen-stamp

.PHONY: demo test test-all lint api-check bench gen clean screenshot

# The venv is rebuilt when pyproject.toml or the constraints change (stale), or when missing.
$(STAMP): pyproject.toml setup.py requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[dev]'
	@touch $@

# Python code for the vigie.v1 API is generated at build time (not committed), with type stubs.
# .venv/ns: the installed package tree as symlinks, for import-linter and mypy (tools/namespace_links.py).
$(GEN): $(PROTOS) $(STAMP) tools/gen_protos.py tools/namespace_links.py setup.py
	$(BIN)/python tools/gen_protos.py
	$(BIN)/python tools/namespace_links.py $(VENV)/ns
	@touch $@

gen: $(GEN)

demo: $(GEN)
	$(BIN)/vigie demo $(ARGS)

screenshot: $(GEN)
	$(BIN)/vigie demo --screenshot screenshots --after 6

# ruff (with RUF100: no stale noqa), the layering contracts ([tool.importlinter]) and the type checks
# ([tool.mypy]) in pyproject.toml.
lint: $(GEN) api-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=$(VENV)/ns $(BIN)/lint-imports --no-cache
	$(BIN)/mypy

# The API's discipline (buf.yaml, docs/api.md): buf lint, then buf breaking against the last release
# tag when there is one, else against the main branch (a branch's changes checked before they
# merge). buf comes from the buf-bin wheel pinned in the dev extras.
# BUF_AGAINST=REF (a buf input) overrides the choice.
api-check: $(STAMP)
	$(BIN)/buf lint
	@against="$(BUF_AGAINST)"; tag=$$(git describe --tags --abbrev=0 2>/dev/null); \
	if [ -z "$$against" ] && [ -n "$$tag" ]; then against=".git#tag=$$tag,subdir=protos"; fi; \
	if [ -z "$$against" ] && git rev-parse --verify -q main >/dev/null 2>&1; then against=".git#branch=main,subdir=protos"; fi; \
	if [ -n "$$against" ]; then echo "buf breaking --against $$against"; $(BIN)/buf breaking --against "$$against"; \
	else echo "buf breaking: skipped, no release tag nor main branch in this checkout"; fi

test: $(GEN) lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Every benchmark runs; the target fails (non-zero) if any of them failed, naming them.
BENCHES := run map_bench video_bench alarm_bench command_bench modes_bench cost_bench dispatch_bench transit_bench recording_bench mqtt_bench cluster_bench mqtt_cluster_bench soak
bench: $(GEN)
	@failed=""; for b in $(BENCHES); do \
		echo "== bench/$$b.py"; \
		case $$b in run) args="$(ARGS)";; soak) args="--short";; *) args="";; esac; \
		$(BIN)/python bench/$$b.py $$args || failed="$$failed $$b"; \
	done; \
	if [ -n "$$failed" ]; then echo "make bench: FAILED:$$failed" >&2; exit 1; fi

# The suite on every supported Python found (pyenv's or on PATH): .venv-3.12, .venv-3.13 beside
# .venv, each from the same pins; a version that is not installed is skipped with a message.
# `make test-all PYTEST_ARGS="tests/unit -x"` narrows the run; PYVERSIONS="3.12" picks versions.
PYVERSIONS ?= 3.11 3.12 3.13
test-all: $(GEN)
	@for v in $(PYVERSIONS); do \
	  py=$$(ls -d $$(pyenv root 2>/dev/null)/versions/$$v*/bin/python 2>/dev/null | tail -n1); \
	  [ -n "$$py" ] || py=$$(command -v python$$v); \
	  if [ -z "$$py" ] || ! "$$py" -c '' 2>/dev/null; then echo "== Python $$v: not installed, skipped"; continue; fi; \
	  venv=.venv-$$v; \
	  if [ "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "$$v" ]; then venv=$(VENV); fi; \
	  if ! [ -f $$venv/.installed ] || [ pyproject.toml -nt $$venv/.installed ] || [ setup.py -nt $$venv/.installed ] || [ requirements/constraints.txt -nt $$venv/.installed ]; then \
	    rm -rf $$venv && $$py -m venv $$venv \
	    && $$venv/bin/python -m pip install --quiet -c requirements/constraints.txt -e '.[dev]' \
	    && touch $$venv/.installed || exit 1; \
	  fi; \
	  echo "== Python $$v ($$($$venv/bin/python -V))"; \
	  $$venv/bin/python -m pytest -p no:cacheprovider $(PYTEST_ARGS) || exit 1; \
	done

clean:
	rm -rf $(VENV) .venv-3.* protos/vigie/v1/*_pb2*.py* $(GEN)

# A cluster on this machine (docs/cluster.md): nats-server (JetStream + MQTT listener), two backend
# replicas on it, the console on both. ARGS: tools/demo_cluster.py options (--no-console, --ports).
.PHONY: demo-cluster
demo-cluster: $(GEN)
	$(BIN)/python tools/demo_cluster.py $(ARGS)

# Soak: the accelerated city, a scripted operator and backend restarts for MINUTES (default 30);
# slopes, top growers, CSV and PNG under /tmp/vigie-soak-* (docs/soak.md). ARGS: more options.
.PHONY: soak
soak: $(GEN)
	$(BIN)/python bench/soak.py --minutes $(or $(MINUTES),30) $(ARGS)
