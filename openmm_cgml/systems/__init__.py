"""Molecular systems to simulate: sequence-defined polymer chains and peptides from PDB files."""
from __future__ import annotations

from dataclasses import dataclass

import openmm
import openmm.app as app
import openmm.unit as unit


@dataclass
class MolecularSystem:
    """A system ready to simulate, with the classical settings it is meant to be run with."""

    topology: app.Topology
    system: openmm.System
    positions: unit.Quantity
    source: str                 # sequence or PDB file it was built from
    forcefield: tuple[str, ...]
    timestep_ps: float          # classical (atomistic) step
    friction_per_ps: float = 1.0
    temperature_k: float = 300.0
