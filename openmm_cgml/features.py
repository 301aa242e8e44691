"""What ``embed`` is given about atoms: integer features and bonds read from an OpenMM Topology."""
from __future__ import annotations

import openmm.app as app

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
    """Atom index pairs of the Topology's bonds, each once."""
    return [(a.index, b.index) for a, b in topology.bonds()]
