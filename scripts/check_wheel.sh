#!/usr/bin/env bash
# The wheel in DIST works on its own: a fresh venv outside the source tree gets the pinned
# requirements and the wheel (torch-cluster from the wheel cache), then runs an example script and
# the `cgml` entry point from there.  Usage: scripts/check_wheel.sh DIST
set -euo pipefail
dist=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"${PYTHON_BOOT:-python3.11}" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install --find-links "${WHEEL_CACHE:?the torch-cluster wheel cache}" "$dist"/openmm_cgml-*.whl
cp "$root/examples/add_to_script.py" "$work/"
cd "$work"  # nothing of the source tree on the path
"$work/venv/bin/python" - <<'PY'
import importlib.util, pathlib
import openmm_cgml
where = pathlib.Path(openmm_cgml.__file__).parent
assert "site-packages" in str(where), where
assert openmm_cgml.shipped_model("polymer").is_file()
spec = importlib.util.spec_from_file_location("add_to_script", "add_to_script.py")
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)
energy = example.main(cg_steps=20, md_steps=20, report_every=10)
print(f"wheel check: openmm_cgml from {where}; add_to_script ran, final potential energy {energy:.1f} kJ/mol")
PY
"$work/venv/bin/cgml" --help > /dev/null
"$work/venv/bin/cgml" describe --help > /dev/null
echo "wheel check: passed ($(ls "$dist"))"
