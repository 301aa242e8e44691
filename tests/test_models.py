"""The shipped trained bundles: intact, and the nanosecond peptide model keeps the molecule's shape."""
import json
from pathlib import Path

import numpy as np
import openmm
import openmm.unit as unit
import pytest

from openmm_cgml import create_integrator
from openmm_cgml.analysis import radius_of_gyration
from openmm_cgml.bundle import MODELS, check_bundle, load_bundle, sampler_summary, shipped_model
from openmm_cgml.mapping import BeadMapping
from openmm_cgml.systems import peptides
from script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted(MODELS.glob("*.pt")), ids=lambda path: path.stem)
def test_shipped_bundle_passes_its_checks(path):
    _, metadata = check_bundle(path)  # frozen like the plugin freezes it, weights' SHA-256 checked
    assert (MODELS / f"{path.stem}.md").is_file()  # every shipped model has its card
    # The Gaussian NLL per bead and axis (the total adds rollout scores whose weights differ between stages).
    assert metadata["validation"]["nll"] < 2.0


def test_the_readme_states_each_shipped_verdict_as_the_bundle_records_it():
    """The README's list of usable and not usable models follows the verdicts the bundles carry."""
    import re

    text = " ".join((ROOT / "README.md").read_text().split())
    found = re.search(r"verdict on its held-out data, usable: (.*?); NOT usable: (.*?)\.(?: |$)", text)
    assert found, "README: the sentence listing the shipped models' verdicts is missing"
    named = [set(re.findall(r"`([\w-]+)`", part)) for part in found.groups()]
    verdicts = {path.stem: load_bundle(path)[1]["verdict"]["usable"] for path in MODELS.glob("*.pt")}
    assert named == [{n for n, ok in verdicts.items() if ok}, {n for n, ok in verdicts.items() if not ok}]


def test_nanosecond_peptide_model_keeps_the_shape_of_alanine_dipeptide():
    """300 CG steps of 1 ns (0.3 µs) in an OpenMM Context: the bead Rg stays within 10 % of the
    classical mean (0.217 nm, openmm_cgml/models/peptide-1ns.md) and no step breaks the molecule apart."""
    molecule = peptides.load()
    bundle = shipped_model("peptide-1ns")
    integrator = create_integrator(str(bundle), molecule.topology, molecule.system)
    assert integrator.getStepSize().value_in_unit(unit.picosecond) == pytest.approx(1000.0)
    integrator.setRandomNumberSeed(3)
    context = openmm.Context(molecule.system, integrator, openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(molecule.positions)
    mapping = BeadMapping.from_metadata(load_bundle(bundle)[1], molecule.topology, molecule.system)
    masses = mapping.bead_masses()
    rg = []
    for _ in range(30):
        integrator.step(10)
        centres = mapping.centres(context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer))
        rg.append(float(radius_of_gyration(centres[None], masses)[0]))
    assert np.all(np.isfinite(rg)) and max(rg) < 0.35
    assert 0.195 < np.mean(rg) < 0.24, rg


def _recorder():
    """scripts/record_bundle_steps.py as a module (it records and replays the bundles' steps)."""
    return load_script("scripts/record_bundle_steps.py")


def _assert_same_steps(record, data, actual, expected, name):
    """Bit for bit on the CPU (model and vector kernels) the steps were recorded on, else within the recorder's tolerance."""
    if data.get("cpu") == record.cpu():
        np.testing.assert_array_equal(actual, expected, err_msg=name)
    else:
        np.testing.assert_allclose(actual, expected, rtol=0, atol=record.TOLERANCE_NM, err_msg=name)


def test_shipped_bundles_take_their_recorded_steps():
    """5 seeded CG steps of each shipped bundle inside OpenMM equal the steps recorded by
    scripts/record_bundle_steps.py (rerun it only after a deliberate change of the models): bit for
    bit where torch runs the same CPU vector kernels as when they were recorded, else within 1e-3 nm."""
    record = _recorder()
    data = json.loads(record.OUT.read_text())
    recorded = data["bundles"]
    assert sorted(recorded) == sorted(path.stem for path in MODELS.glob("*.pt"))
    for path in sorted(MODELS.glob("*.pt")):
        steps = record.bundle_steps(path)
        assert steps["weights_sha256"] == recorded[path.stem]["weights_sha256"]
        _assert_same_steps(record, data, steps["bead_centres_nm"], recorded[path.stem]["bead_centres_nm"], path.stem)


@pytest.mark.parametrize("name", ["polymer", "peptide"])
def test_a_bundle_re_exported_with_its_own_sampler_takes_the_same_steps(name, tmp_path):
    """cgml export of a shipped bundle (for sampler comparisons) keeps the weights and, with the same
    settings, every step and the verdict."""
    from openmm_cgml.export import export_bundle

    record = _recorder()
    data = json.loads(record.OUT.read_text())
    same = export_bundle(MODELS / f"{name}.pt", tmp_path / f"{name}.pt")
    _assert_same_steps(record, data, record.bundle_steps(same)["bead_centres_nm"], data["bundles"][name]["bead_centres_nm"], name)
    shipped_verdict = load_bundle(MODELS / f"{name}.pt")[1]["verdict"]
    assert shipped_verdict and load_bundle(same)[1]["verdict"] == shipped_verdict  # same sampling: the verdict holds


def test_a_bundle_re_exported_with_other_sampler_settings_takes_other_steps(tmp_path):
    """The export options on a bundle that refines a Gaussian sample (peptide.pt): the weights stay,
    the steps move, a verdict of other rollouts is dropped, and settings outside their range are refused."""
    from openmm_cgml.export import export_bundle

    record = _recorder()
    recorded = json.loads(record.OUT.read_text())["bundles"]["peptide"]["bead_centres_nm"]
    shipped = MODELS / "peptide.pt"
    weights = load_bundle(shipped)[1]["weights_sha256"]
    noisy = export_bundle(shipped, tmp_path / "peptide-noise.pt", score_noise=True)
    assert load_bundle(noisy)[1]["weights_sha256"] == weights
    assert load_bundle(noisy)[1]["verdict"] is None  # it judged other rollouts
    assert not np.array_equal(record.bundle_steps(noisy)["bead_centres_nm"], recorded)
    gentle = export_bundle(shipped, tmp_path / "peptide-step.pt", score_step=0.25)
    assert load_bundle(gentle)[1]["score_step"] == 0.25 and load_bundle(gentle)[1]["model_config"]["score_step"] == 0.25
    assert np.abs(np.array(record.bundle_steps(gentle)["bead_centres_nm"]) - np.array(recorded)).max() > 1e-3
    with pytest.raises(ValueError, match=r"score_step must be in \(0, 1\]"):
        export_bundle(shipped, tmp_path / "bad.pt", score_step=1.5)
    narrower = export_bundle(shipped, tmp_path / "peptide-scale.pt", noise_scale=0.9)
    assert load_bundle(narrower)[1]["model_config"]["noise_scale"] == 0.9
    assert np.abs(np.array(record.bundle_steps(narrower)["bead_centres_nm"]) - np.array(recorded)).max() > 1e-3
    with pytest.raises(ValueError, match=r"noise_scale must be in \(0, 2\]"):
        export_bundle(shipped, tmp_path / "bad.pt", noise_scale=0.0)
    generative = export_bundle(shipped, tmp_path / "peptide-diffusion.pt", score_sampler="diffusion", score_sigma_max=1.0)
    metadata = load_bundle(generative)[1]
    assert metadata["model_config"]["score_sampler"] == "diffusion" and metadata["score_calls"] == load_bundle(shipped)[1]["score_calls"]
    assert np.isclose(metadata["score_sigmas_nm"][0], metadata["scales_nm"]["displacement"])  # the new top, 1 unit
    assert np.abs(np.array(record.bundle_steps(generative)["bead_centres_nm"]) - np.array(recorded)).max() > 1e-3
    trained_top = load_bundle(shipped)[1]["training"]["train_config"]["sigma_max"]
    with pytest.raises(ValueError, match="leaves the levels the score network was trained on"):
        export_bundle(shipped, tmp_path / "bad.pt", score_sampler="diffusion", score_sigma_max=2 * trained_top)

    corrected = export_bundle(generative, tmp_path / "peptide-corrected.pt", score_correctors=[0, 1])
    metadata = load_bundle(corrected)[1]
    assert metadata["model_config"]["score_correctors"] == [0, 1] and metadata["weights_sha256"] == weights
    calls = metadata["score_calls"]
    assert sampler_summary(metadata["model_config"]) == f"diffusion sampler, {calls} score calls, correctors at levels [0, 1]"
    assert sampler_summary(load_bundle(noisy)[1]["model_config"]) == f"{calls} score calls, score noise True"
    assert np.abs(np.array(record.bundle_steps(corrected)["bead_centres_nm"])
                  - np.array(record.bundle_steps(generative)["bead_centres_nm"])).max() > 1e-3
    with pytest.raises(ValueError, match="needs the diffusion sampler"):
        export_bundle(shipped, tmp_path / "bad.pt", score_correctors=[0])
    with pytest.raises(ValueError, match="levels of a ladder of"):
        export_bundle(generative, tmp_path / "bad.pt", score_correctors=[metadata["score_calls"]])
