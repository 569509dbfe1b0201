# `make demo` and `make test` each bootstrap .venv on a fresh machine (python3 + PyPI only);
# `make install` only creates it (the deploy walkthrough in README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# .venv with the program, the CLI and the test tools, nothing run.
install: $(STAMP)

# Render the restricted example offline and show the plan summary.
demo: $(STAMP)
	$(BIN)/blueprint plan stacks/Pulumi.restricted-example.yaml

# Two workers (the build machines have two cores); worksteal balances them to the end, and the
# workers share the plans they render (tests/conftest.py _shared).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist worksteal

# Render time and peak memory of every example against the targets in bench/render.py, then
# cold processes side by side (bench/ci.py): a plan against the floor, a cache hit, `ci`.
bench: $(STAMP)
	$(BIN)/python bench/render.py
	$(BIN)/python bench/ci.py

# .blueprint/ holds the plan cache and ci reports (`blueprint ... --no-cache` skips the cache).
clean:
	rm -rf $(VENV) .pytest_cache .blueprint
