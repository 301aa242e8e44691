"""An exported bundle runs in C++ with libtorch alone: plugin/tests/RunCGMLBundle (built by the
set-up, no Python inside) loads it into CGMLIntegrator, which calls embed and step."""
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from openmm_cgml.bundle import save_bundle
from openmm_cgml.nn import ModelConfig, Propagator

RUNNER = Path(__file__).resolve().parents[1] / "build" / "plugin" / "tests" / "RunCGMLBundle"


@pytest.fixture
def exported(tmp_path):
    torch.manual_seed(0)
    model = Propagator(ModelConfig(history_length=3, timestep_ps=5.0, hidden=16, atom_layers=1, dynamics_layers=2,
                                   score_layers=1, score_calls=2))
    model.set_scales(0.1, 0.05)
    return save_bundle(model, tmp_path / "model.pt", {"kind": "test"})


def test_runner_does_not_link_python():
    assert RUNNER.is_file(), f"{RUNNER} is built by the set-up (make plugin)"
    if shutil.which("ldd"):
        libraries = subprocess.run(["ldd", str(RUNNER)], capture_output=True, text=True).stdout
        assert "libtorch" in libraries and "libpython" not in libraries


def test_exported_bundle_runs_in_cpp(exported):
    out = subprocess.run([str(RUNNER), str(exported), "12", "100"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ran 100 steps of 5 ps on 12 beads (k = 3); time 500 ps" in out.stdout


def test_runner_names_a_bad_bundle(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"not a bundle")
    out = subprocess.run([str(RUNNER), str(tmp_path / "bad.pt"), "4", "1"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "bad.pt" in out.stdout
