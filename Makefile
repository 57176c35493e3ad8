# crossbox: foreign-architecture toolbox containers.
# `make` lists the targets. The two commands of the README:
#   sudo make demo    the main job, on a built-in demo image served on 127.0.0.1
#   sudo make check   every test: the unit suite, then the end-to-end suite

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PREFIX ?= /usr/local
PYTEST_ARGS ?=
DISTDIR ?= dist
SRC := host guest shared

.DEFAULT_GOAL := help
.PHONY: help setup venv install man completions dist deb check test-unit test-e2e lint bench demo clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.setup.stamp: tests/setup-debian.sh
	./tests/setup-debian.sh
	touch $@

setup: .setup.stamp ## (root, Debian) install podman, skopeo, qemu, the registry; test user

$(VENV)/.stamp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,lint,dist]'
	touch $@

venv: $(VENV)/.stamp ## a virtual environment with crossbox (editable) and the test tools

install: ## install crossbox, its man pages and shell completion under PREFIX (default /usr/local)
	$(PYTHON) -m pip install --disable-pip-version-check --prefix $(PREFIX) .
	install -d $(PREFIX)/share/man/man1
	install -m 0644 packaging/man/man1/*.1 $(PREFIX)/share/man/man1/
	install -D -m 0644 packaging/completion/crossbox.bash $(PREFIX)/share/bash-completion/completions/crossbox
	install -D -m 0644 packaging/completion/_crossbox $(PREFIX)/share/zsh/site-functions/_crossbox
	install -D -m 0644 packaging/completion/crossbox.fish $(PREFIX)/share/fish/vendor_completions.d/crossbox.fish

# The man pages and completion scripts are generated from the argparse definition and
# committed (the .deb and .rpm builds need no generator); a unit test fails when stale.
man: venv ## regenerate the man pages in packaging/man/man1 (argparse-manpage)
	$(PY) packaging/generate.py --only man

completions: venv ## regenerate the shell completion scripts in packaging/completion (shtab)
	$(PY) packaging/generate.py --only completions

dist: venv ## the sdist and the wheel, in DISTDIR (default dist)
	$(PY) -m build --outdir $(DISTDIR) .

deb: ## (Debian, build tools from tests/setup-debian.sh) the .deb, in DISTDIR (default dist)
	packaging/build-deb.sh $(DISTDIR)

check: setup lint test-unit test-e2e ## lint, then all tests: unit, then end to end (needs root)

test-unit: venv ## the fast unit suite (no podman, no root)
	$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

test-e2e: setup venv ## the end-to-end suite: real podman, skopeo, qemu, registry; rootful and rootless
	PYTHONPATH=tests $(PY) -m bed build
	$(PY) -m pytest tests/e2e -q $(PYTEST_ARGS)

# mypy checks the installed names (crossbox.host, ...); .lint/crossbox links them to the sources.
lint: venv ## ruff, and mypy (strict on shared/ and guest/)
	$(VENV)/bin/ruff check $(SRC) tests packaging bench
	@mkdir -p .lint/crossbox; for d in $(SRC); do ln -sfn ../../$$d .lint/crossbox/$$d; done
	cd .lint && ../$(VENV)/bin/mypy --config-file ../pyproject.toml -p crossbox.shared -p crossbox.guest -p crossbox.host
	cd .lint && ../$(VENV)/bin/mypy --config-file ../pyproject.toml ../packaging/generate.py
	MYPYPATH=tests $(VENV)/bin/mypy --config-file pyproject.toml bench

bench: setup venv ## benchmarks against raw podman, skopeo, qemu and the peers toolbox and distrobox (ratios; BENCH_ARGS=--help for options)
	PYTHONPATH=tests $(PY) -m bench $(BENCH_ARGS)

demo: setup venv ## the main job: an arm64 container from a demo image on 127.0.0.1, prints aarch64
	PYTHONPATH=tests $(PY) -m bed demo

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .setup.stamp .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
