#!/usr/bin/env bash
# Builds the plugin with its CUDA kernels and runs the C++ tests on the CUDA platform (single,
# mixed and double precision): the CUDA trajectories of deterministic stand-in propagators are
# compared with the Reference platform's, CUDA graphs with eager steps, and the CUDA test must
# run, not be skipped.
#
#   scripts/gpu_check.sh fetch   # where pip reaches a package index: download the wheels into .whl/
#   scripts/gpu_check.sh         # on the GPU machine (carry .whl/ there; git ignores it)
#   scripts/gpu_check.sh build   # configure and build only: a machine with the CUDA toolkit and no GPU
#
# The GPU machine needs python3 with a CUDA build of torch, the CUDA toolkit, cmake and a C++
# compiler; OpenMM comes from the carried wheels (openmm and openmm-cuda-13 8.6.1), installed into
# the build folder, not into Python.  swig and Python's headers are not needed (no Python module).
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=${WHEELS:-.whl}
BUILD=${BUILD:-build-gpu}
PYTHON=${PYTHON:-python3}

if [ "${1:-}" = fetch ]; then
    mkdir -p "$WHEELS"
    for wheel in openmm==8.6.1 openmm-cuda-13==8.6.1; do
        "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
            --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
            --platform manylinux2014_x86_64 -d "$WHEELS" "$wheel"
    done
    ls -l "$WHEELS"
    exit 0
fi

log() { echo "== $*"; }
log "machine"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
"$PYTHON" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "device", torch.cuda.is_available())'

log "OpenMM from the carried wheels"
SITE="$PWD/$BUILD/site"
mkdir -p "$SITE"
ls "$WHEELS"/openmm-8.6.1-*.whl "$WHEELS"/openmm_cuda_13-8.6.1-*.whl >/dev/null
for wheel in "$WHEELS"/openmm-8.6.1-*.whl "$WHEELS"/openmm_cuda_13-8.6.1-*.whl; do
    "$PYTHON" -m zipfile -e "$wheel" "$SITE"  # unpacked, whatever the wheel's Python tag: only its files are used
done
# libOpenMMCUDA.so finds cuFFT and NVRTC beside itself in a normal install; here they are torch's.
NVIDIA_LIBS=$("$PYTHON" - <<'PY'
import glob, os, site
dirs = {os.path.dirname(p) for d in site.getsitepackages() for p in glob.glob(os.path.join(d, "nvidia", "**", "lib*.so*"), recursive=True)}
print(":".join(sorted(dirs)))
PY
)
export LD_LIBRARY_PATH="$NVIDIA_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

log "configure and build"
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
cmake -S . -B "$BUILD" "${GENERATOR[@]}" -DPython3_EXECUTABLE="$("$PYTHON" -c "import sys; print(sys.executable)")" -DOPENMM_DIR="$SITE/OpenMM.libs" \
      -DOPENMM_CGML_BUILD_CUDA_LIB=ON -DOPENMM_CGML_BUILD_PYTHON=OFF
cmake --build "$BUILD" --parallel "$(nproc)"

if [ "${1:-}" = build ]; then
    log "built (build only: no tests run)"
    exit 0
fi

log "tests"
(cd "$BUILD" && ctest --output-on-failure)
# ctest counts a skipped test as passed: on this machine the CUDA tests must run.
status=0
for precision in single mixed double; do
    log "CUDA, $precision precision"
    "$BUILD/plugin/tests/TestCGMLIntegrator" CUDA "$SITE/OpenMM.libs/lib/plugins" \
        "$BUILD/plugin/libOpenMMCGMLCUDA.so" "Precision=$precision" || { echo "FAILED (exit code $?)"; status=1; }
done
[ $status = 0 ] && log "all CUDA checks passed" || log "CUDA checks FAILED"
exit $status
