# Touchflow: `make demo` starts a trial, `make test` runs every test.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha1sum | cut -c1-12)

.PHONY: setup demo serve test test-sqlite test-postgres lint browser messages bench clean

setup: $(STAMP) messages

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

# Compiled translations are built, not committed.
messages: $(STAMP)
	@command -v msgfmt >/dev/null || (apt-get update -qq && apt-get install -y -qq gettext)
	cd touchflow && ../$(BIN)/django-admin compilemessages --ignore=.venv -v 0 --settings=touchflow.settings

# `make demo PORT=8001` when 8000 is taken.
demo: setup
	$(BIN)/touchflow demo --port $(PORT)

serve: setup
	$(BIN)/touchflow serve --port $(PORT)

# Debian's Chromium drives the browser tests; Playwright never downloads a browser.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

lint: setup
	$(BIN)/ruff check touchflow tests bench
	$(BIN)/mypy touchflow
	$(BIN)/lint-imports --no-logo --cache-dir var/import-linter

test: setup browser lint
	scripts/run-tests

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var
