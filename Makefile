# Two commands: `make book` builds the site, `make test` runs every test (book build included).
# Both create .venv from requirements.txt on first use and refresh it when that file changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LIGHTHOUSE := $(VENV)/lighthouse/.installed
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
SUITE_WORKERS := -n 3 --dist loadfile --no-loadscope-reorder

.PHONY: venv book test check browser bench mutate mutate-fast publish clean help grade preview autograder slides
.DEFAULT_GOAL := help

help:
	@echo "make book     build _build/html, executing every page that changed (parallel)"
	@echo "              make book SOLUTIONS=hide: the student edition (no solutions anywhere)"
	@echo "make check    the fast tier (< 90 s): package, content and freshness rules; no build, browser or kernel"
	@echo "make test     run the whole pytest suite, including the book build (installs Chromium if missing)"
	@echo "make preview  serve the book on http://127.0.0.1:8000, rebuild on save, reload the browser"
	@echo "make bench    benchmark build speed, page run time and page weight"
	@echo "make mutate   mutation testing: does the build catch broken gradients?"
	@echo "make grade SUBMISSIONS=DIR  grade the lab notebooks in DIR: DIR/grades.csv, summary.md,"
	@echo "              answers.md, feedback/ (ONLY=name regrades one; ID_PATTERN=canvas|moodle|REGEX)"
	@echo "make autograder  _build/autograder/autograder.zip for a Gradescope programming assignment"
	@echo "make slides   lecture decks + PDFs in _build/slides (after the book), published in _build/html/slides"
	@echo "make publish  push _build/html to the gh-pages branch (ghp-import)"
	@echo "make clean    remove _build"

# package.json: KaTeX, which typesets the maths at build time (Node.js >= 18 and npm needed).
$(STAMP): requirements.txt code/pyproject.toml package.json package-lock.json
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "the pinned toolchain needs Python >= 3.11 (make PYTHON=python3.11)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e code
	@command -v npm >/dev/null || { echo "the book's maths is typeset at build time by KaTeX in Node.js: install Node.js >= 18 with npm" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

# Lighthouse (make bench, tests/test_page_speed.py): ~110 MB of npm packages, kept out of the
# repository's node_modules and out of `make book`, in .venv/lighthouse.
$(LIGHTHOUSE): tools/lighthouse/package.json tools/lighthouse/package-lock.json
	mkdir -p $(VENV)/lighthouse
	cp tools/lighthouse/package.json tools/lighthouse/package-lock.json $(VENV)/lighthouse/
	cd $(VENV)/lighthouse && npm ci --no-audit --no-fund --loglevel=error
	touch $(LIGHTHOUSE)

venv: $(STAMP)

book: $(STAMP)
	$(PY) tools/build.py --jobs $(JOBS)

# One reveal.js deck per lesson-plan block, from slides/*.md and the executed book (docs/slides.md).
slides: book
	$(PY) tools/slides/build_slides.py

# The whole suite (CI's command). Chromium first: found, else installed (apt-get as root, else
# playwright), else one message and no tests (tools/provision_browser.py). docs/testing.md.
# SUITE_WORKERS: three pytest-xdist workers on two cores (the suite waits on browsers, kernels and
# time limits more than it computes), a module on one worker, the longest modules first
# (tests/conftest.py), the book built once for all; `make test SUITE_WORKERS=` runs serially
# (docs/testing.md).
test: $(STAMP) $(LIGHTHOUSE) browser
	$(PY) -m pytest $(SUITE_WORKERS)

# The fast tier: every test not marked book, browser or slow (pytest.ini).
check: $(STAMP)
	$(PY) -m pytest -m "not book and not browser and not slow"

browser: $(STAMP)
	@$(PY) tools/provision_browser.py

# sphinx-autobuild's server and reload, the project's own build (tools/build.py) on every change
preview: $(STAMP)
	$(PY) tools/serve.py --jobs $(JOBS) $(if $(PORT),--port $(PORT))

bench: $(STAMP) $(LIGHTHOUSE)
	$(PY) tools/bench.py

mutate: $(STAMP)
	$(PY) tools/mutate.py --jobs $(JOBS)

# The lab as graded homework: every DIR/*.ipynb, sandboxed, scored with the book's self-checks.
grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=DIR (a folder of .ipynb files)" >&2; exit 2; }
	$(PY) tools/grade.py "$(SUBMISSIONS)" --jobs $(JOBS) $(if $(ONLY),--only "$(ONLY)") \
	  $(if $(ID_PATTERN),--id-pattern '$(ID_PATTERN)')

# The same grader as a Gradescope autograder (setup.sh, run_autograder, the lab and mlpbook).
autograder: $(STAMP)
	$(PY) tools/autograder.py build

# The Colab buttons open notebooks/<page>.ipynb from the gh-pages branch of the book's GitHub
# repository (derived: GITHUB_REPOSITORY, else the git remote origin, else repository.url in
# _config.yml), and the notebooks install mlpbook from this commit: it must be pushed. Without a
# GitHub location, or with an origin that is another repository, this refuses and says why.
publish: $(STAMP)
	@$(PY) tools/sphinxext/colab_notebooks/location.py --check
	@$(MAKE) --no-print-directory slides
	$(PY) -m ghp_import --no-jekyll --push --force --branch gh-pages \
	  --message "Publish the book built from $$(git rev-parse --short HEAD 2>/dev/null || echo 'an unknown commit')" _build/html

clean:
	rm -rf _build
