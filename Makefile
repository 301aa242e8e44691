# openmm-cgml: `make demo` and `make test` each set up everything from nothing.
PYTHON_BOOT ?= python3.11
VENV        := .venv
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip --disable-pip-version-check
TORCH       := $(shell sed -n 's/^torch==\([^ ]*\).*/\1/p' requirements.txt)
# torch-cluster 1.6.3 has no wheel on the package index: it is built from source against the pinned
# torch once per machine (about 10 minutes on 2 cores) and reused from this cache, one folder per
# torch version, so a wheel built against another torch is never reused.
WHEEL_CACHE ?= $(HOME)/.cache/openmm-cgml/wheels/torch-$(TORCH)

.PHONY: setup plugin test demo bench fidelity wheel wheel-check clean

$(VENV)/.deps: requirements.txt
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	sed '/^torch-cluster/d' requirements.txt > $(VENV)/requirements-first.txt
	$(PIP) install -q -r $(VENV)/requirements-first.txt
	mkdir -p $(WHEEL_CACHE)
	ls $(WHEEL_CACHE)/torch_cluster-1.6.3-*.whl >/dev/null 2>&1 || \
	  MAX_JOBS=2 $(PIP) wheel -q --no-build-isolation --no-deps -w $(WHEEL_CACHE) torch_cluster==1.6.3
	$(PIP) install -q --find-links $(WHEEL_CACHE) -r requirements.txt
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

# Speed (CG vs classical, integrator vs bare step, 10^2-10^4 beads, memory, replicas per step, the best
# classical set-up), about 7 minutes; the
# fidelity benchmark (cgml benchmark) needs its regenerated reference data: see docs/benchmark.md.
bench: plugin
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/integrator_overhead.py
	$(PY) benchmarks/replicas.py
	$(PY) benchmarks/profile_step.py
	$(PY) benchmarks/classical_baseline.py
	$(PY) benchmarks/whole_run.py
	$(PY) -m pytest -q -m slow
	$(PY) benchmarks/targets.py

# The fidelity benchmark's final runs on the test split (docs/benchmark.md): the shipped polymer model
# (its folder is named after the bundle it was measured as; the other polymer-test* folders hold the
# models it replaced, the -regenerated ones and the stand-ins without that suffix being of other copies
# of the reference data; its CG side is averaged over 4 repeats)
# and the stand-ins with known answers, then the README's tables from their results JSON.  Needs the
# reference data: cgml reference polymers --benchmark, cgml reference pdb ... (README, Results).
RESULTS := benchmarks/results
fidelity: plugin
	$(PY) -m openmm_cgml.cli benchmark polymer --model openmm_cgml/models/polymer.pt --data data/polymers-benchmark --split test --platform CPU --repeats 4 --out $(RESULTS)/polymer-test-diffusion-large-seed1-c10s8x3r6l64t2-repeats4
	$(PY) -m openmm_cgml.cli benchmark polymer --model replay --data data/polymers-benchmark --split test --platform CPU --out $(RESULTS)/polymer-test-replay-regenerated
	$(PY) -m openmm_cgml.cli benchmark polymer --model replay:2.5 --data data/polymers-benchmark --split test --platform CPU --out $(RESULTS)/polymer-test-replay-slow-regenerated
	$(PY) -m openmm_cgml.cli benchmark peptide --model replay --replay-step-ps 100 --data data/alanine-vacuum --split test --platform Reference --out $(RESULTS)/peptide-test-replay-100ps
	$(PY) -m openmm_cgml.cli benchmark peptide --model replay:2 --replay-step-ps 100 --data data/alanine-vacuum --split test --platform Reference --out $(RESULTS)/peptide-test-replay-100ps-slow
	$(PY) scripts/results_tables.py README.md docs/research-polymers.md docs/research-peptide.md openmm_cgml/models/polymer.md

# The package as a wheel (plugin libraries, SWIG module, shipped models) in dist/, and the check that
# it works where nothing else is: a fresh venv with the pinned requirements, the wheel, an example
# script and the `cgml` entry point (run by CI after the tests).
wheel: $(VENV)/.deps
	rm -rf dist
	$(PIP) wheel -q --no-build-isolation --no-deps -w dist .

wheel-check: wheel
	WHEEL_CACHE=$(WHEEL_CACHE) PYTHON_BOOT=$(PYTHON_BOOT) scripts/check_wheel.sh dist

clean:
	rm -rf build dist *.egg-info openmm_cgml/*.so openmm_cgml/cgmlplugin.py
