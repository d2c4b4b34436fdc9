# Two commands a fresh machine needs: `make demo` (the offline demo) and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PLUGINS := $(wildcard plugins/polyroute-*)
STAMP  := $(VENV)/.installed

.PHONY: demo test lint unit record docs docs-check clean reliability

$(STAMP): pyproject.toml $(foreach p,$(PLUGINS),$(p)/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]" $(foreach p,$(PLUGINS),-e $(p))
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/offline_demo.py

# The fault matrix against the OpenAI and Anthropic stand-ins (README "Reliability").
reliability: $(STAMP)
	$(PY) examples/reliability_report.py $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict $(foreach p,$(PLUGINS),$(p)/src)
	$(VENV)/bin/lint-imports --no-cache --contract plugins-no-http --contract core-no-plugin --contract layers

# The layering contract alone (docs/architecture.md); `make lint` runs it too.
.PHONY: layers
layers: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache --contract layers

# pytest-xdist: one worker per core, at most 4 (the Redis, PostgreSQL and multi-process
# tests share the machine's servers and cores); `make unit PYTEST_ARGS=-n0` runs serially.
unit: $(STAMP)
	$(VENV)/bin/pytest -q -n auto --maxprocesses=4 $(PYTEST_ARGS)

# The docs site, strictly (a broken link or nav entry fails; not --quiet, which hides
# the warnings --strict counts): into site/ (git-ignored),
# or with `make docs SITE=DIR`. `make test` builds it into a temp dir it then removes.
SITE ?= site
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir $(SITE)

docs-check: $(STAMP)
	@tmp=$$(mktemp -d); \
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir "$$tmp"; \
	rc=$$?; rm -rf "$$tmp"; exit $$rc

test: browser lint docs-check unit

# The dashboard's browser tests drive Debian's chromium (never a downloaded browser).
# Installs it when missing and this user may (root with apt-get); otherwise says so and
# goes on: those tests then skip, naming the reason.
.PHONY: browser
browser:
	@command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || \
	{ if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the dashboard's browser tests (apt-get)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	      >/dev/null) || echo "note: could not install chromium; the browser tests will skip"; \
	  else \
	    echo "note: no chromium and no root apt-get here; the dashboard's browser tests will skip" \
	         "(install Debian's chromium package to run them)"; \
	  fi; }

# Re-take the dashboard's screenshots into docs/img/dashboard/ (the browser tests take them).
.PHONY: screenshots
screenshots: browser $(STAMP)
	UPDATE_SCREENSHOTS=1 $(VENV)/bin/pytest -q tests/admin/dashboard

# Re-record cassettes against the real APIs (needs real keys; see docs/testing.md).
RECORD_MODE ?= rewrite
record: $(STAMP)
	$(VENV)/bin/pytest -q -p no:cacheprovider --record-mode=$(RECORD_MODE) $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache build dist

# The benchmark (bench/, docs/benchmark.md): its own venv with the peers, never the dev one.
.PHONY: bench
BENCH_VENV := bench/.venv
BENCH_PLUGINS := $(wildcard plugins/polyroute-*/pyproject.toml)
$(BENCH_VENV)/.installed: bench/requirements.txt pyproject.toml $(BENCH_PLUGINS)
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e ".[langchain]" $(foreach p,$(BENCH_PLUGINS),-e $(dir $(p))) -r bench/requirements.txt
	touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python bench/run.py $(ARGS)

# The semantic cache's evaluation (docs/semantic-cache.md): false-hit rates per class of
# prompt pair with the real local model, and lookup latency at 100,000 entries. Not in
# `make test`: installs the CPU build of torch that lies on this machine first (plain
# `torch` would pull a multi-GB CUDA build), then polyroute[semantic-local].
.PHONY: eval-cache
eval-cache: $(STAMP)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[semantic-local]"
	$(PY) bench/semantic_eval.py --large $(ARGS)

# Admin API over 10,000 registry rows + usage summary over 1,000,000 ledger rows (issue 18;
# docs/admin.md "Numbers"). Uses the dev venv (it needs polyroute[admin]); not in `make test`.
.PHONY: bench-admin
bench-admin: $(STAMP)
	$(PY) bench/admin_bench.py $(ARGS)

# Many workers on one Redis and one PostgreSQL (issue 14; docs/deploy.md): 4 processes
# x c=64, 20,000 calls against fault-injecting stand-ins. Not part of `make test`.
.PHONY: loadtest
loadtest: $(STAMP)
	$(PY) bench/loadtest.py $(ARGS)
