# advbook: one-command set-up, tests, notebooks, reproduction, book.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHAPTERS := $(sort $(wildcard chapters/[0-9][0-9]_*.ipynb))

# This project's CI keeps a copy of the texture-vs-shape repository beside the checkout; the
# stimuli loader then "downloads" from it (same checksums) instead of GitHub. Elsewhere the
# variable stays unset and the loader fetches from GitHub at the pinned commit.
SHARED_TEXTURE_VS_SHAPE := $(abspath ../shared/data/texture-vs-shape)
ifneq ($(wildcard $(SHARED_TEXTURE_VS_SHAPE)/stimuli),)
export ADVLIB_TEXTURE_VS_SHAPE_URL ?= file://$(SHARED_TEXTURE_VS_SHAPE)
endif
# The same for the ORL faces (chapter 5): the mirror's layout is the repository's (att_faces/...).
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)/att_faces/s1),)
export ADVLIB_ATT_FACES_URL ?= file://$(SHARED_DATA)
endif
# The same for the ImageNet sample photos (chapter 8): the repository's layout is flat.
SHARED_IMAGENET_SAMPLES := $(SHARED_DATA)/imagenet-sample-images
ifneq ($(wildcard $(SHARED_IMAGENET_SAMPLES)/n01440764_tench.JPEG),)
export ADVLIB_IMAGENET_SAMPLES_URL ?= file://$(SHARED_IMAGENET_SAMPLES)
endif

# The real MNIST (the reference runs' 60,000 / 10,000 digits): this project's machines cannot
# download it, so the official gzip files beside the checkout are checked and unpacked into the
# data root instead. Elsewhere torchvision downloads them once.
SHARED_MNIST := $(SHARED_DATA)/MNIST/raw
ifneq ($(wildcard $(SHARED_MNIST)/train-images-idx3-ubyte.gz),)
export ADVLIB_MNIST_MIRROR ?= $(SHARED_MNIST)
endif

.PHONY: all setup test lint bench reproduce reference test-reference vendor book clean

# The main job: class-scale reproduction on the embedded data, then the offline book.
all: reproduce book
	@echo "The book is at $(CURDIR)/_build/html/index.html"

setup: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt requirements-peer.txt requirements-nodeps.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-test.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-peer.txt -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Lint, library tests, then every chapter re-executed by nbval and compared with its
# committed result cells (tagged nbval-check-output).
test: setup vendor
	$(BIN)/ruff check advlib tests book/_ext
	$(BIN)/python -m pytest tests chapters --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg

lint: setup
	$(BIN)/ruff check advlib tests book/_ext

bench: setup
	$(BIN)/advlib bench

# One execution for the book and the report: run every chapter at class scale with its default
# parameters, judge its targets (a run that contradicts the text fails), then publish: the
# executed notebooks replace the committed ones in chapters/ and the report page is rendered
# from the records embedded in them. Nothing is published if a chapter fails.
reproduce: setup
	$(BIN)/advlib reproduce --scale class --publish

# The reference runs: each chapter that declares one runs with its reference parameters (the
# full MNIST instead of the class subset, more test items; the aim is at most an hour per chapter
# on 2 CPU cores) and is committed under reproductions/, with the reference report page; a
# chapter whose code and parameters are unchanged since its committed run is skipped. Never part
# of `make test`.
reference: setup
	$(BIN)/advlib reproduce --scale reference --publish

# Re-execute the committed reference runs and compare their result cells (as long as the runs):
# no per-test time limit, cells of up to two hours, digits compared only on matching numerics.
test-reference: setup
	PYTHONPATH=tests $(BIN)/python -m pytest reproductions -p nbval_numerics --timeout=0 --nbval-cell-timeout=7200 \
		--nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

# MathJax, require.js and the widget manager from npm, served by the book itself.
vendor: _vendor/.stamp

_vendor/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf _vendor && mkdir -p _vendor/mathjax _vendor/widgets
	cp -r node_modules/mathjax/es5 _vendor/mathjax/
	cp node_modules/requirejs/require.js _vendor/require.js
	cp node_modules/@jupyter-widgets/html-manager/dist/*.js node_modules/@jupyter-widgets/html-manager/dist/*.woff* \
		node_modules/@jupyter-widgets/html-manager/dist/*.ttf node_modules/@jupyter-widgets/html-manager/dist/*.eot \
		node_modules/@jupyter-widgets/html-manager/dist/*.svg _vendor/widgets/
	touch _vendor/.stamp

# Strict build: a warning (a broken reference, a missing file) fails it.
book: setup vendor
	$(BIN)/jupyter-book build . -W --keep-going
	$(BIN)/python -m advlib.cli.book_check _build/html

clean:
	rm -rf $(VENV) _build runs _vendor node_modules .pytest_cache .ruff_cache
