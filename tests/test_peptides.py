import numpy as np
import openmm
import openmm.unit as unit
import pytest

from openmm_cgml import create_integrator
from openmm_cgml.bundle import save_bundle
from openmm_cgml.standins import BondedDiffusion
from openmm_cgml.systems import peptides


def energy(peptide):
    context = openmm.Context(peptide.system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(peptide.positions)
    return context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


def test_shipped_alanine_dipeptide_prepares_reproducibly():
    first, second = peptides.load(), peptides.load()
    residues = [r.name for r in first.topology.residues()]
    assert residues == ["ACE", "ALA", "NME"] and first.topology.getNumAtoms() == 22
    assert np.isfinite(energy(first)) and energy(first) == energy(second)


def test_build_extended_rejects_unknown_letters():
    with pytest.raises(ValueError, match=r"unknown residue letters \['B', 'X'\]"):
        peptides.build_extended("AXB")


def test_unrepairable_pdb_names_the_file(tmp_path):
    bad = tmp_path / "broken.pdb"
    bad.write_text("this is not a PDB file\n")
    with pytest.raises(ValueError, match="broken.pdb"):
        peptides.load(bad)


def test_create_integrator_runs_on_peptide(tmp_path):
    peptide = peptides.load()
    bundle = save_bundle(BondedDiffusion(timestep_ps=2.0), tmp_path / "b.pt")
    integrator = create_integrator(bundle, peptide.topology, peptide.system)
    assert integrator.getStepSize() == 2.0 * unit.picoseconds
    assert len(integrator.getAtomBonds()) == 21 and integrator.getAtomFeatures()[0] == (6, 4)  # CH3 carbon: 4 bonds
    context = openmm.Context(peptide.system, integrator, openmm.Platform.getPlatformByName("CPU"))
    context.setPositions(peptide.positions)
    integrator.step(100)
    assert np.isfinite(context.getState(getPositions=True).getPositions(asNumpy=True)._value).all()
    with pytest.raises(ValueError, match="22 atoms but the System has 6 particles"):
        other = openmm.System()
        for _ in range(6):
            other.addParticle(1.0)
        create_integrator(bundle, peptide.topology, other)


def test_shipped_chignolin_builds_and_minimises():
    chignolin = peptides.load(peptides.shipped_pdb("chignolin"))
    assert chignolin.topology.getNumResidues() == 12 and chignolin.system.getNumParticles() == 147
    assert [r.name for r in chignolin.topology.residues()][1:4] == ["GLY", "TYR", "ASP"]
    context = openmm.Context(chignolin.system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("CPU"))
    context.setPositions(chignolin.positions)
    openmm.LocalEnergyMinimizer.minimize(context)
    energy = context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    assert np.isfinite(energy) and energy < 0
