# openmm-cgml: `make demo` and `make test` each set up everything from nothing.
PYTHON_BOOT ?= python3.11
VENV        := .venv
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip --disable-pip-version-check
WHEELS      := .cache/wheels
TORCH_CLUSTER := torch_cluster==1.6.3
BUILD       := build
JOBS        ?= 2

.PHONY: all setup plugin test test-cpp test-py demo bench clean

all: plugin

$(VENV)/.deps: requirements.txt
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PIP) install -q -r requirements.txt
	mkdir -p $(WHEELS)
	ls $(WHEELS)/torch_cluster-1.6.3-*.whl >/dev/null 2>&1 || \
	  $(PIP) wheel -q --no-build-isolation --no-deps -w $(WHEELS) $(TORCH_CLUSTER)
	$(PIP) install -q --no-deps $(WHEELS)/torch_cluster-1.6.3-*.whl
	touch $@

setup: $(VENV)/.deps

# Builds the C++ plugin (libraries, SWIG module, C++ tests) and installs the Python package in place.
plugin: $(VENV)/.deps
	$(PIP) install -q --no-build-isolation --no-deps -e .

test: plugin
	cd $(BUILD) && ctest --output-on-failure
	$(PY) -m pytest -q tests

demo: plugin
	$(PY) -m openmm_cgml.cli demo

bench: plugin
	$(PY) benchmarks/integrator_overhead.py

clean:
	rm -rf $(BUILD) openmm_cgml/lib *.egg-info
