# openmm-cgml: `make demo` and `make test` each set up everything from nothing.
PYTHON_BOOT ?= python3.11
VENV        := .venv
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip --disable-pip-version-check
# torch-cluster 1.6.3 has no wheel for torch 2.13: it is built from source once per machine
# (about 10 minutes on 2 cores) and the wheel is reused from this cache by every clone.
WHEEL_CACHE ?= $(HOME)/.cache/openmm-cgml/wheels

.PHONY: setup plugin test demo bench clean

$(VENV)/.deps: requirements.txt
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PIP) install -q -r requirements.txt
	mkdir -p $(WHEEL_CACHE)
	ls $(WHEEL_CACHE)/torch_cluster-1.6.3-*.whl >/dev/null 2>&1 || \
	  MAX_JOBS=2 $(PIP) wheel -q --no-build-isolation --no-deps -w $(WHEEL_CACHE) torch_cluster==1.6.3
	$(PIP) install -q --no-deps $(WHEEL_CACHE)/torch_cluster-1.6.3-*.whl
	touch $@

setup: $(VENV)/.deps

# Builds the C++ plugin (libraries, SWIG module, C++ tests) with CMake and installs the package in place.
plugin: $(VENV)/.deps
	$(PIP) install -q --no-build-isolation --no-deps -e .

test: plugin
	cd build && ctest --output-on-failure
	$(PY) -m pytest -q

demo: plugin
	$(PY) -m openmm_cgml.cli demo

# Speed (CG vs classical, integrator vs bare step, 10^2-10^4 beads, memory), about 2 minutes; the
# fidelity benchmark needs the regenerated polymer data: see models/polymer.md.
bench: plugin
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/integrator_overhead.py
	$(PY) -m pytest -q -m slow

clean:
	rm -rf build *.egg-info openmm_cgml/*.so openmm_cgml/cgmlplugin.py
