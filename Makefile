# Two commands: `make book` builds the site, `make test` runs every test (book build included).
# Both create .venv from requirements.txt on first use and refresh it when that file changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: venv book test bench mutate mutate-fast publish clean help grade preview
.DEFAULT_GOAL := help

help:
	@echo "make book     build _build/html, executing every page that changed (parallel)"
	@echo "              make book SOLUTIONS=hide: the student edition (no solutions anywhere)"
	@echo "make test     run the whole pytest suite, including the book build"
	@echo "make preview  serve the book on http://127.0.0.1:8000, rebuild on save, reload the browser"
	@echo "make bench    benchmark build speed, page run time and page weight"
	@echo "make mutate   mutation testing: does the build catch broken gradients?"
	@echo "make grade SUBMISSIONS=DIR  grade the lab notebooks in DIR: DIR/grades.csv, DIR/feedback/"
	@echo "make publish  push _build/html to the gh-pages branch (ghp-import)"
	@echo "make clean    remove _build"

$(STAMP): requirements.txt code/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "the pinned toolchain needs Python >= 3.11 (make PYTHON=python3.11)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e code
	touch $(STAMP)

venv: $(STAMP)

book: $(STAMP)
	$(PY) tools/build.py --jobs $(JOBS)

test: $(STAMP)
	$(PY) -m pytest

# sphinx-autobuild's server and reload, the project's own build (tools/build.py) on every change
preview: $(STAMP)
	$(PY) tools/serve.py --jobs $(JOBS) $(if $(PORT),--port $(PORT))

bench: $(STAMP)
	$(PY) tools/bench.py

mutate: $(STAMP)
	$(PY) tools/mutate.py --jobs $(JOBS)

# The lab as graded homework: every DIR/*.ipynb, sandboxed, scored with the book's self-checks.
grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=DIR (a folder of .ipynb files)" >&2; exit 2; }
	$(PY) tools/grade.py "$(SUBMISSIONS)" --jobs $(JOBS)

# The Colab buttons open notebooks/<page>.ipynb from the gh-pages branch of the book's GitHub
# repository (derived: GITHUB_REPOSITORY, else the git remote origin, else repository.url in
# _config.yml), and the notebooks install mlpbook from this commit: it must be pushed. Without a
# GitHub location, or with an origin that is another repository, this refuses and says why.
publish: $(STAMP)
	@$(PY) tools/sphinxext/colab_notebooks/location.py --check
	@$(MAKE) --no-print-directory book
	$(PY) -m ghp_import --no-jekyll --push --force --branch gh-pages \
	  --message "Publish the book built from $$(git rev-parse --short HEAD 2>/dev/null || echo 'an unknown commit')" _build/html

clean:
	rm -rf _build
