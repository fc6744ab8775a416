# The README's two commands live here: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIND ?= 127.0.0.1:8000

.PHONY: install install-test run serve test lint mutation bench clean

$(VENV)/.installed: pyproject.toml
	bin/system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Install, migrate, seed the demo (a dsa_learning database and a demo login), then serve on http://$(BIND)/
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py seed_demo
	$(PY) manage.py sync_schedules
	BIND=$(BIND) bin/serve

# Production-style serving (gunicorn + whitenoise + the django-q2 cluster), without the demo seed.
serve: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py sync_schedules
	BIND=$(BIND) bin/serve

test: install-test
	bin/test-setup
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

lint: install-test
	$(VENV)/bin/ruff check .

# Mutation testing of the pure modules (bench/mutation.py: which modules, which tests). A measurement, not CI.
mutation: install-test
	bin/test-setup
	$(PY) bench/mutation.py $(MUTATION_ARGS)

clean:
	rm -rf $(VENV) var/static .pytest_cache
