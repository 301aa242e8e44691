import pytest
import torch

from openmm_cgml.bundle import load_bundle, save_bundle, weights_sha256
from openmm_cgml.standins import UniformDrift


def test_round_trip_keeps_metadata(tmp_path):
    path = save_bundle(UniformDrift(timestep_ps=5.0, history_length=3), tmp_path / "m.pt", {"note": "x"})
    module, metadata = load_bundle(path)
    assert (module.history_length, module.timestep_ps, metadata["note"]) == (3, 5.0, "x")
    assert metadata["weights_sha256"] == weights_sha256(module)  # recorded for the plugin to check
    assert not list(tmp_path.glob("*.partial*"))


def test_contract_checked_on_save_and_load(tmp_path):
    with pytest.raises(ValueError, match="'timestep_ps' must be a float > 0"):
        save_bundle(UniformDrift(timestep_ps=-1.0), tmp_path / "bad.pt")
    assert not (tmp_path / "bad.pt").exists()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_bundle(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="is not a TorchScript bundle"):
        load_bundle(tmp_path / "junk.pt")
