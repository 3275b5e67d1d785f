# qingfeng: `make run` starts the whole stack, `make test` checks everything.
# Both set up .venv from scratch when needed (Python 3.11+).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Waits for another apt-get (two make targets set up at once) instead of failing.
APT    := apt-get -o DPkg::Lock::Timeout=600
export QINGFENG_DATA_DIR ?= $(CURDIR)/data

.PHONY: setup fonts browsers scaleout run migrate demo test lint typecheck pytest test-pg test-lanes bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "qingfeng needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

# The papers (decision notices, case files, reports) are PDFs set in Noto CJK, which they
# embed: the service needs fonts-noto-cjk. Installed when missing.
fonts:
	@if ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then \
	  echo "installing fonts-noto-cjk for the PDF papers"; \
	  $(APT) update -qq && DEBIAN_FRONTEND=noninteractive \
	    $(APT) install -y -qq fonts-noto-cjk >/dev/null; \
	fi

# The browser tests drive Debian's chromium through Playwright (which cannot download its
# own browser here); fonts-noto-cjk renders the zh-CN text. Installed when missing.
# poppler-utils (pdftotext, pdffonts, pdftoppm) reads the PDFs back in the tests.
browsers:
	@if ! command -v chromium >/dev/null || ! command -v pdftotext >/dev/null \
	    || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then \
	  echo "installing chromium, fonts-noto-cjk and poppler-utils for the tests"; \
	  $(APT) update -qq && DEBIAN_FRONTEND=noninteractive \
	    $(APT) install -y -qq chromium fonts-noto-cjk poppler-utils >/dev/null; \
	fi

migrate: setup
	$(BIN)/qingfeng migrate

run: setup fonts
	$(BIN)/qingfeng up

demo: migrate
	$(BIN)/qingfeng demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

# The tests marked `lane` (the crash test, the scale-out run, the API fuzzing) take minutes
# each: they run in their own CI lane, `make test-lanes`, one at a time. The rest runs on two
# pytest-xdist workers (tests/conftest.py: each its own temp dir, ports and PostgreSQL; the
# Prefect tests in one group, so one Prefect server).
pytest: setup browsers
	$(BIN)/pytest -m "not lane" -n 2 --dist loadgroup

test: lint typecheck pytest

# The same suite with every test's database on a real PostgreSQL server (tests/postgres.py
# starts one from the installed binaries; apt-get install postgresql).
test-pg: setup browsers
	QINGFENG_TEST_DATABASE=postgres $(BIN)/pytest -m "not lane" -n 2 --dist loadgroup

# The scale-out lane (tests/test_scale_out.py, docs/scale-out.md) runs nginx, Redis and
# PostgreSQL from Debian's packages as unprivileged children.
scaleout:
	@if ! command -v nginx >/dev/null || ! command -v redis-server >/dev/null \
	    || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "installing nginx, redis-server and postgresql for the scale-out lane"; \
	  $(APT) update -qq && DEBIAN_FRONTEND=noninteractive \
	    $(APT) install -y -qq nginx redis-server postgresql >/dev/null; \
	fi

test-lanes: setup browsers scaleout
	$(BIN)/pytest -m lane

bench: setup
	$(BIN)/python bench/actions.py
	$(BIN)/python bench/deadlines.py
	$(BIN)/python bench/orchestration.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
