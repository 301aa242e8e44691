"""CGMLIntegrator from Python: construction, stepping, CompoundIntegrator, Simulation and reporters."""
import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit
import pytest
from conftest import configure

from openmm_cgml import CGMLIntegrator, BeadMapping


def bead_centres(context):
    x = context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    system = context.getSystem()
    masses = [system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(6)]
    return BeadMapping((0, 0, 1, 1, 2, 2), tuple(masses)).centres(x)


def test_drift_matches_closed_form(drift_bundle, six_particles, platform):
    system, positions = six_particles
    integrator = configure(CGMLIntegrator(drift_bundle, 2.0 * unit.picoseconds))
    assert integrator.getStepSize() == 2.0 * unit.picoseconds
    context = openmm.Context(system, integrator, platform)
    context.setPositions(positions)
    start = bead_centres(context)
    integrator.step(10)
    expected = start + np.array([0.1, -0.2, 0.3]) * 20.0
    assert np.abs(bead_centres(context) - expected).max() < 1e-9
    state = context.getState(getVelocities=True)
    assert state.getTime().value_in_unit(unit.picosecond) == pytest.approx(20.0)
    assert np.allclose(state.getVelocities(asNumpy=True).value_in_unit(unit.nanometer / unit.picosecond), [0.1, -0.2, 0.3])


def test_bundle_from_bytes_and_pathlike(drift_bundle, six_particles):
    for bundle in (drift_bundle, str(drift_bundle), drift_bundle.read_bytes()):
        integrator = CGMLIntegrator(bundle, 2.0)
        assert integrator.getHistoryLength() == 1
        assert integrator.getBundle() == drift_bundle.read_bytes()


def test_seed_makes_runs_reproducible(noise_bundle, six_particles, platform):
    system, positions = six_particles

    def run(seed):
        integrator = configure(CGMLIntegrator(noise_bundle, 1.0))
        integrator.setRandomNumberSeed(seed)
        context = openmm.Context(system, integrator, platform)
        context.setPositions(positions)
        integrator.step(20)
        return context.getState(getPositions=True).getPositions(asNumpy=True)._value

    assert np.array_equal(run(7), run(7))
    assert not np.allclose(run(7), run(8))


def test_compound_switches_both_ways(drift_bundle, six_particles, platform):
    system, positions = six_particles
    compound = openmm.CompoundIntegrator()
    compound.addIntegrator(configure(CGMLIntegrator(drift_bundle, 2.0)))
    compound.addIntegrator(openmm.LangevinMiddleIntegrator(300 * unit.kelvin, 1 / unit.picosecond, 0.001 * unit.picoseconds))
    context = openmm.Context(system, compound, platform)
    context.setPositions(positions)
    for _ in range(3):
        compound.setCurrentIntegrator(0)
        start = bead_centres(context)
        compound.step(5)
        assert np.abs(bead_centres(context) - (start + np.array([0.1, -0.2, 0.3]) * 10.0)).max() < 1e-9
        compound.setCurrentIntegrator(1)
        context.setVelocitiesToTemperature(300 * unit.kelvin)
        before = bead_centres(context)
        compound.step(50)
        assert np.isfinite(context.getState(getEnergy=True).getPotentialEnergy()._value)
        assert not np.allclose(before, bead_centres(context))
    assert CGMLIntegrator.isinstance(compound.getIntegrator(0))
    assert CGMLIntegrator.cast(compound.getIntegrator(0)).getHistoryLength() == 1


def test_xml_round_trip_reproduces_trajectory(noise_bundle, six_particles):
    system, positions = six_particles
    integrator = configure(CGMLIntegrator(noise_bundle, 1.0))
    integrator.setRandomNumberSeed(42)
    copy = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(integrator))
    assert CGMLIntegrator.cast(copy).getBeadAssignment() == (0, 0, 1, 1, 2, 2)
    trajectories = []
    for integ in (integrator, copy):
        context = openmm.Context(system, integ, openmm.Platform.getPlatformByName("Reference"))
        context.setPositions(positions)
        integ.step(15)
        trajectories.append(context.getState(getPositions=True).getPositions(asNumpy=True)._value)
    assert np.array_equal(*trajectories)


def test_simulation_reporters_and_checkpoint(noise_bundle, six_particles, tmp_path):
    system, positions = six_particles
    topology = app.Topology()
    chain = topology.addChain()
    atoms = []
    for r in range(3):
        residue = topology.addResidue("BEA", chain)
        atoms += [topology.addAtom(f"C{r}{i}", app.element.carbon, residue) for i in range(2)]
    for a, b in zip(atoms, atoms[1:]):
        topology.addBond(a, b)
    integrator = configure(CGMLIntegrator(noise_bundle, 1.0))
    integrator.setRandomNumberSeed(5)
    simulation = app.Simulation(topology, system, integrator, openmm.Platform.getPlatformByName("CPU"))
    simulation.context.setPositions(positions)
    log, dcd = tmp_path / "log.csv", tmp_path / "traj.dcd"
    simulation.reporters.append(app.StateDataReporter(str(log), 5, step=True, time=True, kineticEnergy=True))
    simulation.reporters.append(app.DCDReporter(str(dcd), 5))
    simulation.step(20)
    assert len(log.read_text().splitlines()) == 5
    assert dcd.stat().st_size > 0
    # A checkpoint restores positions, velocities, time, step count and the integrator's history.
    checkpoint = tmp_path / "state.chk"
    simulation.saveCheckpoint(str(checkpoint))
    simulation.step(10)
    expected = simulation.context.getState(getPositions=True).getPositions(asNumpy=True)._value
    simulation.loadCheckpoint(str(checkpoint))
    assert simulation.context.getStepCount() == 20
    simulation.step(10)
    assert np.array_equal(expected, simulation.context.getState(getPositions=True).getPositions(asNumpy=True)._value)
