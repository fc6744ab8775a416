# The README's two commands live here: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIND ?= 127.0.0.1:8000

.PHONY: install install-test run serve test lint lock audit mutation bench clean

# Dependencies come from hash-pinned lock files (make lock writes them from pyproject.toml); pip check then
# proves the lock holds everything pyproject.toml asks for.
$(VENV)/.installed: pyproject.toml requirements.lock
	bin/system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.lock
	$(PY) -m pip install --quiet --require-hashes -r requirements-test.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Install, migrate, seed the demo (a dsa_learning database and a demo login), then serve on http://$(BIND)/
run: install
	LIFEBOAT_WITH_SERVER=auto bin/system-deps
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py seed_demo
	$(PY) manage.py setup_database_roles
	$(PY) manage.py sync_schedules
	BIND=$(BIND) bin/serve

# Production-style serving (gunicorn + whitenoise + the django-q2 cluster), without the demo seed.
serve: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py sync_schedules
	BIND=$(BIND) bin/serve

# The whole suite with branch coverage (subprocesses included); floors: pyproject.toml and bin/coverage-floors.
test: install-test
	bin/test-setup
	rm -rf var/coverage && mkdir -p var/coverage
	$(PY) -m pytest -n 2 --cov --cov-report=term:skip-covered $(PYTEST_ARGS)
	$(PY) bin/coverage-floors

# Re-resolve the lock files after changing dependencies in pyproject.toml (needs the package index).
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet pip-tools
	.venv-lock/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links -o requirements.lock pyproject.toml
	.venv-lock/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links --extra test -o requirements-test.lock pyproject.toml
	rm -rf .venv-lock

# Known vulnerabilities in the locked dependencies (pip-audit asks the PyPI/OSV advisory database).
audit: install
	$(PY) -m pip install --quiet pip-audit
	$(PY) -m pip_audit --require-hashes -r requirements-test.lock --progress-spinner off \
		|| { echo "pip-audit failed: see above (no network to its advisory database also ends here)"; exit 1; }

lint: install-test
	$(VENV)/bin/ruff check .

# Mutation testing of the pure modules (bench/mutation.py: which modules, which tests). A measurement, not CI.
mutation: install-test
	bin/test-setup
	$(PY) bench/mutation.py $(MUTATION_ARGS)

clean:
	rm -rf $(VENV) var/static var/coverage .pytest_cache
