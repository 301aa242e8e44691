"""The CG-vs-classical report and the hand-off to atoms, on alanine dipeptide with an analytic stand-in."""
import json

import mdtraj
import numpy as np
import openmm
import openmm.unit as unit
import pytest

import openmm_cgml
from openmm_cgml.cli import main as cgml
from openmm_cgml.bundle import rotation_free
from openmm_cgml.compare import CompareSettings, compare, load_reference, standin_bundle
from openmm_cgml.handoff import HandoffError, HandoffWarning, check_atoms, handoff, rest_lengths
from openmm_cgml.mapping import BeadMapping
from openmm_cgml.report import markdown
from openmm_cgml.systems import peptides


@pytest.fixture(scope="module")
def peptide():
    return peptides.load()


@pytest.fixture(scope="module")
def mapping(peptide):
    return BeadMapping.per_residue(peptide.topology, peptide.system)


@pytest.fixture(scope="module")
def bundle(peptide, mapping, tmp_path_factory):
    # CG steps of 0.1 ps keep the classical run that covers the same time short (50 MD steps a frame)
    path = tmp_path_factory.mktemp("bundle") / "standin.pt"
    return standin_bundle(peptide.topology, peptide.positions, mapping, path, timestep_ps=0.1)


def _write(path, xyz, topology, time=None):
    mdtraj.Trajectory(np.asarray(xyz, dtype=np.float32), topology, time=time).save(str(path))


def test_compare_writes_report(peptide, mapping, bundle, tmp_path):
    report = compare(peptide.system, peptide.topology, peptide.positions, bundle,
                     CompareSettings(cg_steps=40, handoff_steps=50, progress=False), mapping, tmp_path)
    for name in ["report.md", "report.json", *report["plots"]]:
        assert (tmp_path / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "report.json").read_text()) == report
    assert report["cg"]["frames"] == report["classical"]["frames"] == 41
    assert report["cg"]["frame_interval_ps"] == pytest.approx(report["classical"]["frame_interval_ps"]) == pytest.approx(0.1)
    for side in ("cg", "classical"):
        assert 0.1 < report[side]["rg_mean_nm"] < 0.4
        assert 0.2 < report[side]["bond_length_mean_nm"] < 0.5
    assert all(v is None or 0.0 <= v <= 1.0 for v in report["js_divergence_bits"].values())
    assert report["speed"]["cg_ns_per_s"] > 0 and report["speed"]["classical_ns_per_s"] > 0
    assert report["speed"]["ratio"] == pytest.approx(report["speed"]["cg_ns_per_s"] / report["speed"]["classical_ns_per_s"])
    assert report["classical"]["collisions_per_frame"] == 0  # the threshold is the classical minimum
    assert report["handoff"]["stable"] and report["handoff"]["max_deviation_nm"] < 0.03
    assert "| Rg mean ± std (nm) |" in (tmp_path / "report.md").read_text()
    # A bundle trained on rotation-free windows does not tumble: the report says its MSD is internal only.
    assert report["system"]["rotation_free"] is False and "rotation-free" not in (tmp_path / "report.md").read_text()
    assert "rotation-free windows" in markdown(dict(report, system=dict(report["system"], rotation_free=True)))


def test_rotation_free_is_read_from_the_training_settings():
    assert rotation_free({"training": {"train_config": {"align_windows": True}}})
    assert not rotation_free({"training": {"train_config": {"align_windows": False}}})
    assert not rotation_free({"training": {"train_config": None}}) and not rotation_free({})


def test_handoff_restores_system_and_keeps_centres(peptide, mapping, bundle):
    system = peptide.system
    before, n_forces = openmm.XmlSerializer.serialize(system), system.getNumForces()
    cg = openmm_cgml.create_integrator(bundle, peptide.topology, system, mapping=mapping)
    cg.setRandomNumberSeed(3)
    md = openmm.LangevinMiddleIntegrator(300, 1, 0.002)
    compound = openmm.CompoundIntegrator()
    compound.addIntegrator(cg)
    compound.addIntegrator(md)
    context = openmm.Context(system, compound, openmm.Platform.getPlatformByName("CPU"))
    context.setPositions(peptide.positions)
    compound.setCurrentIntegrator(1)
    openmm.LocalEnergyMinimizer.minimize(context)
    compound.setCurrentIntegrator(0)
    compound.step(20)
    x = context.getState(getPositions=True).getPositions(asNumpy=True)
    targets = mapping.centres(x)
    time_before = context.getState().getTime()

    result = handoff(context, mapping, targets, temperature_k=300 * unit.kelvin, seed=5)
    assert result.max_deviation_nm < 0.02
    assert result.potential_energy_after < result.potential_energy_before
    assert system.getNumForces() == context.getSystem().getNumForces() == n_forces
    assert openmm.XmlSerializer.serialize(system) == before
    state = context.getState(getPositions=True, getVelocities=True)
    assert state.getTime() == time_before
    assert np.abs(state.getVelocities(asNumpy=True)).max() > 0
    centres = mapping.centres(state.getPositions(asNumpy=True))
    assert np.linalg.norm(centres - targets, axis=1).max() < 0.02
    compound.setCurrentIntegrator(1)
    compound.step(50)
    assert np.isfinite(context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
    with pytest.raises(ValueError, match="expected \\(3, 3\\)"):
        handoff(context, mapping, targets[:2])


def test_reference_with_wrong_atom_count_is_refused(peptide, mapping, bundle, tmp_path):
    small = mdtraj.Topology()
    residue = small.add_residue("ALA", small.add_chain())
    for _ in range(5):
        small.add_atom("C", mdtraj.element.carbon, residue)
    for suffix in (".pdb", ".dcd"):
        path = tmp_path / f"five{suffix}"
        _write(path, np.random.default_rng(0).random((3, 5, 3)), small)
        with pytest.raises(ValueError, match="has 5 atoms but the System has 22"):
            compare(peptide.system, peptide.topology, peptide.positions, bundle,
                    CompareSettings(reference=str(path), reference_interval_ps=1.0, progress=False), mapping, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="missing.dcd"):
        load_reference(tmp_path / "missing.dcd", peptide.topology, mapping, 1.0)


def test_compare_against_stored_reference(peptide, mapping, bundle, tmp_path):
    top = mdtraj.Topology.from_openmm(peptide.topology)
    start = np.asarray(peptide.positions.value_in_unit(unit.nanometer))
    frames = start + np.random.default_rng(1).normal(scale=0.01, size=(30, 1, 3))  # rigid jiggles
    path = tmp_path / "ref.dcd"
    _write(path, frames, top)
    with pytest.raises(ValueError, match="time between frames"):
        load_reference(path, peptide.topology, mapping)
    stored = load_reference(path, peptide.topology, mapping, 0.5)
    assert stored.beads.shape == (30, 3, 3) and stored.interval_ps == 0.5
    np.testing.assert_allclose(stored.beads[0], mapping.centres(frames[0]), atol=1e-5)
    _write(tmp_path / "ref.h5", frames, top, time=0.25 * np.arange(30))  # HDF5 stores the time stamps
    assert load_reference(tmp_path / "ref.h5", peptide.topology, mapping).interval_ps == pytest.approx(0.25)
    settings = CompareSettings(cg_steps=20, md_steps=100, handoff_steps=10, reference=str(path),
                               reference_interval_ps=0.5, progress=False)
    report = compare(peptide.system, peptide.topology, peptide.positions, bundle, settings, mapping, tmp_path / "out")
    assert report["settings"]["reference_interval_ps"] == 0.5
    assert report["classical"]["label"] == "reference (ref.dcd)" and report["classical"]["frames"] == 30
    assert report["speed"]["classical_ns_per_s"] > 0


def test_cli_compare(tmp_path):
    assert cgml(["compare", "--out", str(tmp_path), "--cg-steps", "3", "--handoff-steps", "5", "--platform", "CPU"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["cg"]["frames"] == 4 and report["cg"]["rg2_relaxation_ps"] is None  # too short: unresolved
    assert (tmp_path / "standin.pt").is_file()


def test_handoff_of_a_collapsed_frame_raises_and_leaves_the_context(peptide, mapping):
    """Every bead centre on one point: physical atoms cannot put their centres there; beads four times as
    far apart: bonds tear.  Each error has the numbers, and the Context keeps its positions (no NaN at
    the next classical step)."""
    context = openmm.Context(peptide.system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("CPU"))
    context.setPositions(peptide.positions)
    x = context.getState(getPositions=True).getPositions(asNumpy=True)
    collapsed = np.repeat(mapping.centres(x).mean(0, keepdims=True), mapping.n_beads, axis=0)
    centres = mapping.centres(x)
    quick = dict(max_iterations=200, recovery_stages=((1.0, 50), (0.1, 50)))
    with pytest.raises(HandoffError, match=r"cannot be made physical around this CG frame: the CG frame puts beads \d and \d 0\.000 nm apart, "
                                           r"the physical atoms hold them 0\.\d+ nm apart .*The Context is unchanged"):
        handoff(context, mapping, collapsed, **quick)
    torn = centres.mean(0) + 4 * (centres - centres.mean(0))  # beads four times as far apart: bonds torn
    with pytest.raises(HandoffError, match=r"bonds are off their rest length by more than 50%; the worst, atoms \d+-\d+, "
                                           r"is 0\.\d+ nm against 0\.1\d+ nm; the potential energy is .* kJ/mol per atom"):
        handoff(context, mapping, torn, **quick)
    assert np.array_equal(context.getState(getPositions=True).getPositions(asNumpy=True), x)


def test_handoff_of_a_rough_frame_warns_and_goes_on(peptide, mapping):
    """Beads drawn to 0.6 of their distances from the centre: atoms fit them only roughly (one bead
    about 0.15 nm off, 0.1 nm rms), as after hundreds of steps of the shipped peptide model: a warning
    with the numbers, and physical atoms in the Context."""
    context = openmm.Context(peptide.system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("CPU"))
    context.setPositions(peptide.positions)
    centres = mapping.centres(context.getState(getPositions=True).getPositions(asNumpy=True))
    rough = centres.mean(0) + 0.6 * (centres - centres.mean(0))
    with pytest.warns(HandoffWarning, match=r"fit the CG frame only roughly: bead \d's centre ends 0\.1\d+ nm from its CG position"):
        result = handoff(context, mapping, rough, max_iterations=200, recovery_stages=((1.0, 50), (0.1, 50)))
    assert 0.1 < result.max_deviation_nm < 0.3
    x = context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    assert np.allclose(mapping.centres(x), rough, atol=0.2)


def test_check_atoms_names_the_worst_bond(peptide):
    x = np.array(peptide.positions.value_in_unit(unit.nanometer))
    assert check_atoms(peptide.system, x, 0.0) is None
    pairs, r0 = rest_lengths(peptide.system)
    i, j = pairs[0]
    x[j] = x[i] + (x[j] - x[i]) * 3.0  # a bond three times its length
    why = check_atoms(peptide.system, x, 0.0)
    assert f"atoms {i}-{j}" in why and f"against {r0[0]:.3f} nm" in why
    assert "kJ/mol per atom" in check_atoms(peptide.system, peptide.positions.value_in_unit(unit.nanometer), 1e6)


def test_compare_marks_a_failed_handoff(peptide, mapping, bundle, tmp_path, monkeypatch):
    """A hand-off that fails still leaves the CG-vs-MD report, marked."""
    import openmm_cgml.compare as compare_module

    def failing(*args, **kwargs):
        raise HandoffError("handoff: the atoms cannot be made physical around this CG frame: test")
    monkeypatch.setattr(compare_module, "handoff", failing)
    report = compare(peptide.system, peptide.topology, peptide.positions, bundle,
                     CompareSettings(cg_steps=5, handoff_steps=5, progress=False), mapping, tmp_path)
    assert report["handoff"] == {"failed": True, "reason": "handoff: the atoms cannot be made physical around this CG frame: test",
                                 "stable": False}
    assert "**The hand-off failed**" in (tmp_path / "report.md").read_text()
    assert report["cg"]["frames"] == 6
