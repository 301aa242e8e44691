"""What a user relies on most, with the shipped polymer model inside OpenMM: checkpoints continue a
run bit for bit, each Context has its own random stream whatever threads do, altered bundles are
refused, and the atom features must be the ones the model was trained with."""
import threading
import zipfile

import numpy as np
import openmm
import pytest
import torch

import openmm_cgml
from openmm_cgml import create_integrator, shipped_model
from openmm_cgml.systems import polymers

SEQUENCE = "SRRSRRRSRSRSRSRSHSRR"  # the demo's held-out chain


@pytest.fixture(scope="module")
def chain():
    return polymers.build(SEQUENCE, 1)


def polymer_context(chain, seed=5, bundle=None, platform="Reference"):
    integrator = create_integrator(str(bundle or shipped_model("polymer")), chain.topology, chain.system)
    integrator.setRandomNumberSeed(seed)
    context = openmm.Context(chain.system, integrator, openmm.Platform.getPlatformByName(platform))
    context.setPositions(chain.positions)
    return context, integrator


def positions(context):
    return context.getState(getPositions=True).getPositions(asNumpy=True)._value


@pytest.mark.parametrize("platform", ["Reference", "CPU"])
def test_checkpoint_continues_the_shipped_model_exactly(chain, platform, tmp_path):
    """k = 4: the history, the step count and the seed come back with the checkpoint."""
    context, integrator = polymer_context(chain, seed=0, platform=platform)  # seed 0: the Context's own
    integrator.step(6)
    checkpoint = context.createCheckpoint()
    integrator.step(10)
    expected = positions(context)
    context.loadCheckpoint(checkpoint)
    integrator.step(10)
    assert np.array_equal(positions(context), expected)
    other, other_integrator = polymer_context(chain, seed=0, platform=platform)
    other.loadCheckpoint(checkpoint)
    other_integrator.step(10)
    assert np.array_equal(positions(other), expected)


def test_simulation_checkpoint_file_continues_exactly(chain, tmp_path):
    integrator = create_integrator(str(shipped_model("polymer")), chain.topology, chain.system)
    integrator.setRandomNumberSeed(5)
    simulation = openmm.app.Simulation(chain.topology, chain.system, integrator, openmm.Platform.getPlatformByName("Reference"))
    simulation.context.setPositions(chain.positions)
    simulation.step(3)
    simulation.saveCheckpoint(str(tmp_path / "run.chk"))
    simulation.step(8)
    expected = positions(simulation.context)
    simulation.loadCheckpoint(str(tmp_path / "run.chk"))
    simulation.step(8)
    assert np.array_equal(positions(simulation.context), expected)


def test_two_contexts_in_two_threads_equal_their_runs_alone(chain):
    alone = {}
    for seed in (3, 4):
        context, integrator = polymer_context(chain, seed)
        integrator.step(40)
        alone[seed] = positions(context)
    runs = {seed: polymer_context(chain, seed) for seed in (3, 4)}
    threads = [threading.Thread(target=runs[seed][1].step, args=(40,)) for seed in (3, 4)]
    # The caller's own torch stream, drawn from on this thread while the steps run in the others.
    torch.manual_seed(99)
    expected_draws = torch.cat([torch.randn(1) for _ in range(200)])
    torch.manual_seed(99)
    for thread in threads:
        thread.start()
    draws = torch.cat([torch.randn(1) for _ in range(200)])
    for thread in threads:
        thread.join()
    for seed in (3, 4):
        assert np.array_equal(positions(runs[seed][0]), alone[seed])
    assert torch.equal(draws, expected_draws)


def altered_copy(bundle, out):
    """The bundle with one byte of its first weight tensor changed (the zip itself stays valid)."""
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        changed = False
        for item in source.infolist():
            data = source.read(item)
            if not changed and "/data/" in item.filename and len(data) > 8:
                data = data[:4] + bytes([data[4] ^ 0x10]) + data[5:]
                changed = True
            target.writestr(item, data)
    assert changed
    return out


def test_altered_bundle_and_altered_xml_are_refused(chain, tmp_path):
    bundle = shipped_model("polymer")
    with pytest.raises(Exception, match="weights do not match the SHA-256"):
        openmm_cgml.CGMLIntegrator(str(altered_copy(bundle, tmp_path / "altered.pt")), 20.0)
    _, integrator = polymer_context(chain)
    xml = openmm.XmlSerializer.serialize(integrator)
    start = xml.index('bundle="') + len('bundle="')
    # Change one hex digit well inside the archive's tensor data (the last quarter of the bytes).
    at = start + 3 * (xml.index('"', start) - start) // 4
    altered = xml[:at] + ("0" if xml[at] != "0" else "1") + xml[at + 1:]
    with pytest.raises(Exception, match="SHA-256|not a loadable TorchScript"):
        openmm.XmlSerializer.deserialize(altered)
    with pytest.raises(Exception, match="not a hex digit"):
        openmm.XmlSerializer.deserialize(xml[:start + 10] + "zz" + xml[start + 12:])


def test_features_must_be_the_trained_ones(chain):
    def context_with(features):
        integrator = openmm_cgml.CGMLIntegrator(str(shipped_model("polymer")), 20.0)
        integrator.setBeadAssignment([i // 3 for i in range(chain.system.getNumParticles())])
        if features is not None:
            integrator.setAtomFeatures(features)
        return openmm.Context(chain.system, integrator, openmm.Platform.getPlatformByName("Reference"))

    n = chain.system.getNumParticles()
    with pytest.raises(Exception, match=r"no atom features were set, but the bundle was trained with atom features "
                                        r"\[atomic_number, bond_count\]; openmm_cgml.create_integrator computes them"):
        context_with(None)
    for columns in ([6], [6, 2, 1]):
        with pytest.raises(Exception, match=f"has {len(columns)} columns, but the bundle was trained with"):
            context_with([columns] * n)
    with pytest.raises(Exception, match="has atomic_number = 500, outside the 0..118"):
        context_with([[500, 1]] * n)
    with pytest.raises(TypeError, match="atom features must be integers"):
        context_with([[6.5, 2]] * n)
    context_with([[6, 2]] * n)  # in range: accepted


def test_nan_positions_are_named(chain):
    context, integrator = polymer_context(chain)
    x = np.array(chain.positions.value_in_unit(openmm.unit.nanometer))
    x[7, 2] = np.nan
    context.setPositions(x)
    with pytest.raises(Exception, match="the position of particle 7 is NaN or infinite; no step was taken"):
        integrator.step(1)


def test_steps_outside_the_training_range_are_reported(chain, tmp_path):
    """The shipped polymer model with a recorded training range that the chain leaves at once: the
    default warns and goes on, "raise" fails the step with the beads and distances named."""
    from openmm_cgml.bundle import load_bundle, save_bundle

    module, metadata = load_bundle(shipped_model("polymer"))
    metadata["training_range"] = {"closest_pair_nm": 5.0, "bond_length_nm": [0.0, 100.0]}
    bundle = save_bundle(module, tmp_path / "ranged.pt", metadata)
    context, integrator = polymer_context(chain, bundle=bundle)
    integrator.step(2)  # warns once on standard error, steps on
    assert context.getState().getStepCount() == 2
    integrator = create_integrator(str(bundle), chain.topology, chain.system)
    integrator.setProperty("CheckTrainingRange", "raise")
    context = openmm.Context(chain.system, integrator, openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(chain.positions)
    with pytest.raises(Exception, match=r"left what the model was trained on: beads \d+ and \d+ are [\d.]+ nm apart, closer "
                                        r"than the training data's closest non-bonded approach of 5 nm"):
        integrator.step(1)
    assert context.getState().getStepCount() == 0


def test_reporters_show_the_bead_centres_temperature(chain, tmp_path):
    """StateDataReporter's temperature during CG steps is 2 K_beads / (3 n_beads k_B): the bead centres'
    own temperature, not their kinetic energy spread over every atom's degrees of freedom."""
    integrator = create_integrator(str(shipped_model("polymer")), chain.topology, chain.system)
    integrator.setRandomNumberSeed(2)
    simulation = openmm.app.Simulation(chain.topology, chain.system, integrator, openmm.Platform.getPlatformByName("Reference"))
    simulation.context.setPositions(chain.positions)
    log = tmp_path / "log.csv"
    simulation.reporters.append(openmm.app.StateDataReporter(str(log), 1, temperature=True))
    simulation.step(3)
    reported = float(log.read_text().splitlines()[-1])
    mapping = openmm_cgml.BeadMapping.of_integrator(integrator, chain.system)
    v = simulation.context.getState(getVelocities=True).getVelocities(asNumpy=True)._value
    masses = np.asarray(mapping.atom_masses)
    beads = np.asarray(mapping.bead_of_atom)
    momentum = np.zeros((mapping.n_beads, 3))
    np.add.at(momentum, beads, masses[:, None] * v)
    kinetic = 0.5 * (momentum ** 2).sum(1) / mapping.bead_masses()
    boltzmann = 0.00831446261815324  # kJ/mol/K
    assert reported == pytest.approx(2 * kinetic.sum() / (3 * mapping.n_beads * boltzmann), rel=1e-4)
