"""Building a ready CGMLIntegrator from an OpenMM Topology and System."""
from __future__ import annotations

import os

import openmm.app as app
import openmm.unit as unit

from .cgmlplugin import CGMLIntegrator
from .export import load_bundle
from .mapping import BeadMapping, check_sizes


# The integer features of an atom, in column order; bundles record this vocabulary in their metadata.
ATOM_FEATURES = ("atomic_number", "bond_count")


def atom_features(topology: app.Topology) -> list[list[int]]:
    """Per atom: atomic number (0 where the element is unknown) and the number of bonds it has."""
    degree = [0] * topology.getNumAtoms()
    for a, b in topology.bonds():
        degree[a.index] += 1
        degree[b.index] += 1
    return [[atom.element.atomic_number if atom.element is not None else 0, degree[atom.index]]
            for atom in topology.atoms()]


def atom_bonds(topology: app.Topology) -> list[tuple[int, int]]:
    return [(a.index, b.index) for a, b in topology.bonds()]


def bundle_mapping(metadata: dict, topology: app.Topology, system) -> BeadMapping:
    """The beads a bundle was trained with (the mapping method in its metadata), else one per residue."""
    return BeadMapping.create(metadata.get("mapping") or "residue", topology, system)


def create_integrator(bundle, topology: app.Topology, system, stepSize=None,
                      mapping: BeadMapping | None = None) -> CGMLIntegrator:
    """A CGMLIntegrator for ``system`` with beads from ``mapping``.

    ``mapping`` defaults to the mapping method the bundle was trained with (its metadata), else one
    bead per residue; ``stepSize`` (ps or a Quantity) defaults to the bundle's CG step.
    """
    check_sizes(topology, system)
    module, metadata = load_bundle(bundle)
    mapping = mapping or bundle_mapping(metadata, topology, system)
    if mapping.n_atoms != system.getNumParticles():
        raise ValueError(f"the mapping covers {mapping.n_atoms} atoms but the System has "
                         f"{system.getNumParticles()} particles")
    if stepSize is None:
        stepSize = module.timestep_ps
    elif unit.is_quantity(stepSize):
        stepSize = stepSize.value_in_unit(unit.picosecond)
    integrator = CGMLIntegrator(os.fspath(bundle), float(stepSize))
    integrator.setBeadAssignment(list(mapping.bead_of_atom))
    integrator.setAtomFeatures(atom_features(topology))
    integrator.setAtomBonds(atom_bonds(topology))
    return integrator
