"""The learned CG force field: mapped forces, force matching, and the TorchForce it runs as in OpenMM."""
from pathlib import Path

import numpy as np
import openmm
import openmm.unit as unit
import pytest
import torch

from openmm_cgml.data import read_run
from openmm_cgml.forcefield.forces import load_force_frames, mapped_forces
from openmm_cgml.forcefield.model import CGForceField, ForceFieldConfig, Terms
from openmm_cgml.forcefield.system import create_system, is_forcefield, save_forcefield, simulate
from openmm_cgml.forcefield.train import Batches, fit_prior
from openmm_cgml.mapping import BeadMapping

SAMPLE = Path(__file__).parent / "data" / "polymers-sample"
RUN = SAMPLE / "trajectories" / "HSLLLRLLHLLH.h5"
KJ_NM = unit.kilojoule_per_mole / unit.nanometer


def _sample():
    metadata, system, trajectory = read_run(RUN)
    topology = trajectory.topology.to_openmm()
    return system, topology, trajectory.xyz.astype(np.float64), BeadMapping.create("residue", topology, system)


def _forcefield(tmp_path, dtype=torch.float64) -> Path:
    torch.manual_seed(3)
    model = CGForceField(ForceFieldConfig(hidden=8, layers=2)).to(dtype)
    fit_prior(model, [load_force_frames(RUN, every=10)])
    metadata = {"temperature_k": 300.0, "friction_per_ps": 10.0, "timestep_ps": 0.02, "mapping": "residue"}
    return save_forcefield(model, tmp_path / "ff.pt", metadata)


def test_mapped_forces_sum_the_atom_forces_of_each_bead():
    system, topology, xyz, mapping = _sample()
    beads = mapped_forces(system, mapping, xyz[:3])
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(xyz[2])
    atoms = context.getState(getForces=True).getForces(asNumpy=True).value_in_unit(KJ_NM)
    first = [i for i, b in enumerate(mapping.bead_of_atom) if b == 1]
    np.testing.assert_allclose(beads[2, 1], atoms[first].sum(0), rtol=1e-10, atol=1e-8)
    # Forces between atoms cancel in total: no external force acts on the chain.
    np.testing.assert_allclose(beads.sum(1), 0.0, atol=1e-6 * np.abs(beads).max())


def test_a_constraint_between_beads_is_refused():
    system, topology, xyz, mapping = _sample()
    system.addConstraint(0, 3, 0.4)  # atoms of residues 0 and 1
    with pytest.raises(ValueError, match="constraint 0 joins atoms 0 and 3 of beads 0 and 1"):
        mapped_forces(system, mapping, xyz[:1])


def test_prior_is_boltzmann_inverted_from_the_frames():
    frames = load_force_frames(RUN, every=5)
    model = CGForceField(ForceFieldConfig(hidden=8, layers=1))
    values = fit_prior(model, [frames])
    x = frames.positions.numpy()
    lengths = np.linalg.norm(x[:, 1:] - x[:, :-1], axis=-1)  # residue beads of a chain: bonds i, i+1
    assert values["bond_r0"] == pytest.approx(lengths.mean(), rel=1e-9)
    assert values["bond_k"] == pytest.approx(model.prior.kt / lengths.var(), rel=1e-9)
    assert float(model.prior.sigma) == pytest.approx(values["sigma"])


def test_terms_of_copies_never_join_copies():
    terms = Terms.of(4, [(0, 1), (1, 2), (2, 3)], copies=2)
    copy = terms.edge_index // 4
    assert (copy[0] == copy[1]).all() and terms.edge_index.shape[1] == 2 * 12
    assert terms.repulsive.T.tolist() == [[0, 3], [4, 7]]  # only pairs three bonds apart
    assert terms.angles.shape[1] == 4 and int(terms.is_bond.sum()) == 2 * 6


@pytest.mark.parametrize("platform", ["Reference", "CPU"])
def test_torchforce_gives_the_energy_and_minus_its_gradient(tmp_path, platform):
    system, topology, xyz, mapping = _sample()
    path = _forcefield(tmp_path)
    assert is_forcefield(path) and not is_forcefield(RUN)
    cg_system, _, _ = create_system(path, topology, system, copies=2)
    assert cg_system.getNumParticles() == 2 * mapping.n_beads
    context = openmm.Context(cg_system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName(platform))
    x = np.concatenate([mapping.centres(xyz[10]), mapping.centres(xyz[60])])
    context.setPositions(x)
    state = context.getState(getEnergy=True, getForces=True)
    forces = state.getForces(asNumpy=True).value_in_unit(KJ_NM)
    # The same energy from the model in Python, and its forces by central differences.
    module = torch.jit.load(str(path))
    bonds = mapping.bead_bonds([(b.atom1.index, b.atom2.index) for b in topology.bonds()])
    terms = Terms.of(mapping.n_beads, bonds, 2)
    from openmm_cgml.features import atom_bonds, atom_features
    features = module.embed(torch.tensor(atom_features(topology)),
                            torch.tensor(atom_bonds(topology)).reshape(-1, 2).T.contiguous(),
                            torch.tensor(mapping.bead_of_atom), torch.tensor(mapping.atom_masses, dtype=torch.float64))
    features = features.detach().repeat(2, 1)

    def energy(positions):
        with torch.no_grad():
            return float(module(torch.tensor(positions), features, terms.edge_index, terms.is_bond, terms.bonds,
                                terms.angles, terms.repulsive))

    assert state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole) == pytest.approx(energy(x), rel=1e-5)
    h = 1e-5
    for bead, axis in ((0, 0), (5, 1), (mapping.n_beads + 7, 2)):
        up, down = x.copy(), x.copy()
        up[bead, axis] += h
        down[bead, axis] -= h
        expected = -(energy(up) - energy(down)) / (2 * h)
        assert forces[bead, axis] == pytest.approx(expected, rel=1e-3, abs=1e-3)
    # The second copy's forces do not depend on the first copy.
    moved = x.copy()
    moved[: mapping.n_beads] += 0.3
    context.setPositions(moved)
    shifted = context.getState(getForces=True).getForces(asNumpy=True).value_in_unit(KJ_NM)
    np.testing.assert_allclose(shifted[mapping.n_beads:], forces[mapping.n_beads:], rtol=1e-6, atol=1e-6)


def test_simulate_runs_each_copy_from_its_start(tmp_path):
    system, topology, xyz, mapping = _sample()
    path = _forcefield(tmp_path, torch.float32)
    runs, wall = simulate(path, topology, system, [xyz[0], xyz[50]], length_ps=1.0, interval_ps=0.2, seed=2,
                          platform="Reference")
    assert len(runs) == 2 and runs[0].shape == (5, mapping.n_beads, 3) and wall > 0
    for run, start in zip(runs, (xyz[0], xyz[50])):
        assert np.abs(run[0] - mapping.centres(start)).max() < 0.2  # 10 steps of 20 fs from there
    with pytest.raises(ValueError, match="not a whole number of force-field steps"):
        simulate(path, topology, system, [xyz[0]], length_ps=1.0, interval_ps=0.03, platform="Reference")


def test_force_matching_overfits_a_few_frames():
    frames = load_force_frames(RUN, every=25)  # 4 frames of 12 beads
    torch.manual_seed(0)
    model = CGForceField(ForceFieldConfig(hidden=16, layers=2))
    fit_prior(model, [frames])
    batches = Batches([frames], frames_per_run=4, runs_per_batch=1)
    batch = batches.epoch(None)[0]
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = batches.loss(model, batch, create_graph=False).item()
    for _ in range(300):
        loss = batches.loss(model, batch, create_graph=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.2 * first, (first, loss.item())


def test_three_way_compare_on_the_shipped_sample(tmp_path):
    """``cgml compare --forcefield``: the CG force field is a third side of the report, run from the
    same start for as long as the CG run (alanine dipeptide, one bead per residue)."""
    import json

    from openmm_cgml.cli import main as cgml

    torch.manual_seed(0)
    path = save_forcefield(CGForceField(ForceFieldConfig(hidden=8, layers=1)), tmp_path / "ff.pt",
                           {"temperature_k": 300.0, "friction_per_ps": 10.0, "timestep_ps": 0.02, "mapping": "residue"})
    out = tmp_path / "compare"
    assert cgml(["compare", "--out", str(out), "--cg-steps", "3", "--handoff-steps", "5", "--platform", "CPU",
                 "--forcefield", str(path)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["forcefield"]["frames"] == report["cg"]["frames"] == 4
    assert report["forcefield"]["frame_interval_ps"] == report["cg"]["frame_interval_ps"]
    assert all(v is None or 0.0 <= v <= 1.0 for v in report["forcefield_js_divergence_bits"].values())
    assert report["speed"]["forcefield_ns_per_s"] > 0 and report["system"]["forcefield"] == str(path)
    text = (out / "report.md").read_text()
    assert "| | CG integrator | CG force field |" in text and "| distribution | CG integrator | CG force field |" in text


def test_compare_refuses_a_forcefield_on_other_beads(tmp_path):
    """The shipped peptide bundle has graclus beads; a residue-bead force field is refused before any run."""
    from openmm_cgml.compare import compare
    from openmm_cgml.bundle import shipped_model
    from openmm_cgml.systems import peptides

    peptide = peptides.load()
    path = save_forcefield(CGForceField(ForceFieldConfig(hidden=4, layers=1)), tmp_path / "ff.pt",
                           {"temperature_k": 300.0, "friction_per_ps": 10.0, "timestep_ps": 0.02, "mapping": "residue"})
    with pytest.raises(ValueError, match="maps atoms to beads by 'residue'.*the integrator's beads differ"):
        compare(peptide.system, peptide.topology, peptide.positions, shipped_model("peptide"), out_dir=tmp_path / "c",
                forcefield=path)
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "configs").glob("forcefield-*.json")),
                         ids=lambda path: path.stem)
def test_forcefield_configs_load(path):
    import json

    from openmm_cgml.forcefield.train import ForceMatchingConfig

    values = json.loads(path.read_text())
    assert set(values) <= {"model", "train", "description"}
    CGForceField(ForceFieldConfig.from_dict(values["model"]))
    ForceMatchingConfig.from_dict(values["train"])


def test_forcefield_train_and_export_commands(tmp_path):
    """``cgml forcefield train`` (settings from a config, overridden on the command line) then
    ``cgml forcefield export``: a force-field file with the Langevin settings and the training's beads."""
    import json

    from openmm_cgml.cli import main as cgml
    from openmm_cgml.forcefield.system import forcefield_metadata

    config = tmp_path / "ff.json"
    config.write_text(json.dumps({"model": {"hidden": 4, "layers": 1},
                                  "train": {"epochs": 3, "every": 20, "validation_every": 20, "mapping": "graclus:4"}}))
    out = tmp_path / "train"
    assert cgml(["forcefield", "train", str(SAMPLE), "--config", str(config), "--out", str(out), "--epochs", "1",
                 "--mapping", "residue", "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]) == 1 and metrics["data"]["train_runs"] == 4
    path = tmp_path / "ff.pt"
    assert cgml(["forcefield", "export", str(out / "best.pt"), "--out", str(path), "--friction", "7",
                 "--timestep-ps", "0.04"]) == 0
    metadata = forcefield_metadata(path)
    assert (metadata["mapping"], metadata["friction_per_ps"], metadata["timestep_ps"]) == ("residue", 7.0, 0.04)
