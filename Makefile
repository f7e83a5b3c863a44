# highlevel: `make demo`, `make test`, `make bench`, `make docs`. Every target reuses .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BACKENDS ?= numpy torch tensorflow
# One thread per engine: the suite's numbers do not depend on a noisy second core.
TEST_ENV := OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 TF_CPP_MIN_LOG_LEVEL=2
PYTEST_ARGS ?= -q

.PHONY: setup demo test test-% bench docs clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[all,dev]"
	touch $@

# The main job: train a CNN on the bundled handwritten digits on the default backend, with a live
# progress bar; prints the test accuracy and saves the model to build/digits_cnn.hl.
demo: setup
	$(PY) examples/cnn_digits.py

# The whole suite once per backend, as users run their code (HIGHLEVEL_BACKEND=...).
test: setup
	@set -e; for backend in $(BACKENDS); do \
		echo "=== HIGHLEVEL_BACKEND=$$backend ==="; \
		HIGHLEVEL_BACKEND=$$backend $(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS) tests; \
	done

test-%: setup
	HIGHLEVEL_BACKEND=$* $(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS) tests

bench: setup
	$(TEST_ENV) $(PY) benchmarks/ops_benchmark.py
	$(TEST_ENV) $(PY) benchmarks/train_throughput.py
	$(TEST_ENV) $(PY) benchmarks/predict_latency.py
	$(TEST_ENV) $(PY) benchmarks/input_pipeline.py

# The documentation site (MkDocs) into site/; `$(VENV)/bin/mkdocs serve` previews it.
docs: setup
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build site *.egg-info
