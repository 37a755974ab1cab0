# Two commands do all set-up: `make demo` and `make test`. Each creates .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test bench serve check-config clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Account Pulse needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

demo: $(STAMP)  ## Run the bot's main job on the built-in sandbox agency (no credentials needed)
	$(BIN)/pulse demo

test: $(STAMP)  ## Lint (ruff), type-check (mypy), then run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n auto --dist load

bench: $(STAMP)  ## Run the benchmarks (prints numbers and ratios)
	$(BIN)/python -m benchmarks

serve: $(STAMP)  ## Run the bot with the settings in .env
	$(BIN)/pulse serve

check-config: $(STAMP)
	$(BIN)/pulse check-config $(FILE)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
