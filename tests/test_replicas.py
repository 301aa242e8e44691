"""Replicas in one System: the integrator's IndependentMolecules property with the shipped polymer model."""
import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit
import pytest

from openmm_cgml import create_integrator, shipped_model
from openmm_cgml.systems import polymers


def two_copies(offset_nm):
    """Two copies of a 20-monomer chain, the second moved by ``offset_nm``: a particle-only System."""
    molecule = polymers.build("SRRSRRRSRSRSRSRSHSRR", 1)
    x = molecule.positions.value_in_unit(unit.nanometer)
    modeller = app.Modeller(app.Topology(), [])
    system = openmm.System()
    for shift in (0.0, offset_nm):
        modeller.add(molecule.topology, (np.asarray(x) + shift) * unit.nanometer)
        for i in range(molecule.system.getNumParticles()):
            system.addParticle(molecule.system.getParticleMass(i))
    return modeller.topology, system, modeller.positions


def run(independent, offset_nm=(0.05, 0.02, 0.0), steps=3):
    """``steps`` steps of two copies, the second moved by ``offset_nm`` (by default the copies overlap);
    returns the integrator and each particle's displacement (nm)."""
    topology, system, positions = two_copies(np.array(offset_nm))
    integrator = create_integrator(shipped_model("polymer"), topology, system, independent_molecules=independent)
    integrator.setRandomNumberSeed(3)
    # Off: the model itself now and then brings two beads of one chain closer than its training data
    # did (its card), which says nothing about the copies meeting.
    integrator.setProperty("CheckTrainingRange", "off")
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(positions)
    integrator.step(steps)
    end = context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    return integrator, end - np.asarray(positions.value_in_unit(unit.nanometer))


def test_overlapping_copies_do_not_meet_when_independent():
    # Independent, overlapping copies move exactly as copies 50 nm apart do (each sees only itself);
    # together, with the same random numbers, the model sees both copies and moves them otherwise.
    integrator, apart = run(True)
    assert integrator.getProperties()["IndependentMolecules"] == "true"
    _, far = run(True, (50.0, 0.0, 0.0))
    _, together = run(False)
    assert np.isfinite(apart).all()
    assert np.abs(apart - far).max() < 1e-6
    assert np.abs(apart - together).max() > 0.05


def test_copies_far_apart_are_unchanged_by_the_property():
    # Copies 50 nm apart never meet in the model's graph: the property only moves them for the call.
    topology, system, positions = two_copies(np.array([50.0, 0.0, 0.0]))
    results = []
    for independent in (False, True):
        integrator = create_integrator(shipped_model("polymer"), topology, system, independent_molecules=independent)
        integrator.setRandomNumberSeed(5)
        context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("Reference"))
        context.setPositions(positions)
        integrator.step(3)
        results.append(context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer))
    assert np.abs(results[0] - results[1]).max() < 1e-9


def test_property_value_is_checked():
    topology, system, _ = two_copies(np.zeros(3))
    integrator = create_integrator(shipped_model("polymer"), topology, system)
    with pytest.raises(Exception, match='IndependentMolecules must be "true" or "false"'):
        integrator.setProperty("IndependentMolecules", "1")
