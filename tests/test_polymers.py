import io

import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit
import pytest

from openmm_cgml.systems import polymers


def _energies(molecule, steps=200):
    integrator = openmm.LangevinMiddleIntegrator(300 * unit.kelvin, molecule.friction_per_ps / unit.picosecond,
                                                 molecule.timestep_ps * unit.picosecond)
    integrator.setRandomNumberSeed(7)
    context = openmm.Context(molecule.system, integrator, openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(molecule.positions)
    openmm.LocalEnergyMinimizer.minimize(context)
    context.setVelocitiesToTemperature(300 * unit.kelvin, 7)
    integrator.step(steps)
    state = context.getState(getEnergy=True)
    return state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole), \
        state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)


def test_chain_is_deterministic_with_finite_reproducible_energies():
    a, b = polymers.build("SHLRSHLRHH", seed=3), polymers.build("SHLRSHLRHH", seed=3)
    assert a.system.getNumParticles() == 30 and a.topology.getNumResidues() == 10
    assert np.array_equal(a.positions.value_in_unit(unit.nanometer), b.positions.value_in_unit(unit.nanometer))
    first, second = _energies(a), _energies(b)
    assert np.all(np.isfinite(first)) and first == second
    assert not np.array_equal(polymers.build("SHLRSHLRHH", seed=4).positions.value_in_unit(unit.nanometer),
                              a.positions.value_in_unit(unit.nanometer))


def test_monomer_types_differ_and_topology_writes_pdb():
    molecule = polymers.build("SLHR")
    out = io.StringIO()
    app.PDBFile.writeFile(molecule.topology, molecule.positions, out)
    assert {"SMA", "LAR", "HYD", "RIG"} <= {line[17:20] for line in out.getvalue().splitlines() if line.startswith(("ATOM", "HETATM"))}
    params = {MONOMER: (m.sigma_nm, m.epsilon_kj, m.stiffness_kj) for MONOMER, m in polymers.MONOMERS.items()}
    assert len(set(params.values())) == 4 and len({p[0] for p in params.values()}) == 4
    assert len(list(molecule.topology.bonds())) == 3 * 4 - 1


@pytest.mark.parametrize("sequence, message", [("SHX", "unknown monomer letters"), ("SXHLR", "unknown monomer letters"),
                                               ("SH", "too short")])
def test_bad_sequences(sequence, message):
    with pytest.raises(ValueError, match=message):
        polymers.build(sequence)


def test_random_sequences_are_distinct_and_reproducible():
    family = polymers.random_sequences(12, 20, seed=5)
    assert family == polymers.random_sequences(12, 20, seed=5) and len(set(family)) == 12
    assert all(len(s) == 20 and set(s) <= set(polymers.MONOMERS) for s in family)
