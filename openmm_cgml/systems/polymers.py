"""Sequence-defined single polymer chains in implicit solvent: the paper's benchmark family re-created.

Each monomer is three particles: a backbone particle and a side chain of two.  Four monomer types
differ in side-chain size (LJ sigma), attraction (LJ epsilon) and backbone stiffness (angle force
constant), so sequences span swollen, flexible coils to compact globules.  Solvent is implicit: the
Langevin thermostat supplies friction and noise.  Units: nm, ps, amu, kJ/mol.

``build(sequence, seed)`` is deterministic: the start is an extended zig-zag whose side chains
point in directions drawn from ``seed``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit

from . import MolecularSystem


@dataclass(frozen=True)
class Monomer:
    residue: str         # residue name in the Topology (PDB writing, mdtraj)
    element: str         # element symbol of the side-chain particles (the backbone is carbon)
    sigma_nm: float      # side-chain LJ diameter
    epsilon_kj: float    # side-chain LJ well depth
    stiffness_kj: float  # backbone angle force constant at this monomer, kJ/mol/rad²


MONOMERS = {
    "S": Monomer("SMA", "N", 0.30, 0.4, 2.0),    # small, weak, flexible
    "L": Monomer("LAR", "S", 0.50, 0.8, 5.0),    # large, moderately sticky
    "H": Monomer("HYD", "O", 0.42, 3.0, 5.0),    # hydrophobic: strongly attractive
    "R": Monomer("RIG", "P", 0.38, 0.5, 60.0),   # rigid backbone
}
FORCEFIELD = ("cgml-polymer-v1",)
MIN_LENGTH = 4
BACKBONE = dict(mass=50.0, sigma=0.38, epsilon=0.3)
SIDE_MASS = 40.0
BOND_NM = {"bb": 0.38, "bs": 0.33, "ss": 0.30}
BOND_K = 2000.0           # kJ/mol/nm²
BACKBONE_ANGLE = 2.0      # rad (~115°)
SIDE_ANGLE_K = 10.0       # kJ/mol/rad², backbone–side–side, straight
# Bond vibrations last ~0.7 ps; the friction of a viscous implicit solvent slows chain relaxation to
# tens to hundreds of ps, so a CG step of 1000 classical steps (20 ps) still resolves it.
TIMESTEP_PS, FRICTION_PER_PS = 0.02, 10.0


def check_sequence(sequence: str) -> str:
    unknown = sorted(set(sequence) - set(MONOMERS))
    if unknown:
        raise ValueError(f"polymer sequence '{sequence}' has unknown monomer letters {unknown}; "
                         f"known: {''.join(MONOMERS)}")
    if len(sequence) < MIN_LENGTH:
        raise ValueError(f"polymer sequence '{sequence}' is too short: {len(sequence)} monomers, "
                         f"at least {MIN_LENGTH} needed")
    return sequence


def random_sequences(count: int, length: int, seed: int) -> list[str]:
    """``count`` distinct sequences; each draws its composition from a flat Dirichlet, so the family
    includes chains rich in every type, not only even mixtures."""
    rng = np.random.default_rng(seed)
    letters = np.array(sorted(MONOMERS))
    found: list[str] = []
    while len(found) < count:
        weights = rng.dirichlet(np.ones(len(letters)))
        sequence = "".join(rng.choice(letters, size=length, p=weights))
        if sequence not in found:
            found.append(sequence)
    return found


def build(sequence: str, seed: int = 1) -> MolecularSystem:
    """A chain of ``sequence`` (letters of MONOMERS): Topology, System and starting positions."""
    check_sequence(sequence)
    topology = app.Topology()
    chain = topology.addChain("A")
    system = openmm.System()
    bonds = openmm.HarmonicBondForce()
    angles = openmm.HarmonicAngleForce()
    # Uncharged Lennard-Jones with Lorentz-Berthelot mixing; one short chain: all pairs is cheapest.
    lj = openmm.NonbondedForce()
    lj.setNonbondedMethod(openmm.NonbondedForce.NoCutoff)
    carbon = app.Element.getBySymbol("C")
    backbone, pairs = [], []
    for i, letter in enumerate(sequence):
        monomer = MONOMERS[letter]
        residue = topology.addResidue(monomer.residue, chain)
        b = topology.addAtom("B", carbon, residue)
        s1 = topology.addAtom("S1", app.Element.getBySymbol(monomer.element), residue)
        s2 = topology.addAtom("S2", app.Element.getBySymbol(monomer.element), residue)
        for atom, mass, sig, eps in ((b, BACKBONE["mass"], BACKBONE["sigma"], BACKBONE["epsilon"]),
                                     (s1, SIDE_MASS, monomer.sigma_nm, monomer.epsilon_kj),
                                     (s2, SIDE_MASS, monomer.sigma_nm, monomer.epsilon_kj)):
            system.addParticle(mass)
            lj.addParticle(0.0, sig, eps)
        for (x, y), kind in (((b, s1), "bs"), ((s1, s2), "ss")):
            topology.addBond(x, y)
            bonds.addBond(x.index, y.index, BOND_NM[kind], BOND_K)
            pairs.append((x.index, y.index))
        angles.addAngle(b.index, s1.index, s2.index, np.pi, SIDE_ANGLE_K)
        if backbone:
            topology.addBond(backbone[-1], b)
            bonds.addBond(backbone[-1].index, b.index, BOND_NM["bb"], BOND_K)
            pairs.append((backbone[-1].index, b.index))
        if len(backbone) >= 2:
            # The angle at the middle backbone particle takes the stiffness of that monomer.
            middle = MONOMERS[sequence[i - 1]]
            angles.addAngle(backbone[-2].index, backbone[-1].index, b.index, BACKBONE_ANGLE, middle.stiffness_kj)
        backbone.append(b)
    lj.createExceptionsFromBonds(pairs, 0.0, 1.0)  # 1-2 and 1-3 pairs excluded, 1-4 at full strength
    for force in (bonds, angles, lj):
        system.addForce(force)
    positions = _start(sequence, seed)
    return MolecularSystem(topology, system, positions * unit.nanometer, sequence, FORCEFIELD,
                           timestep_ps=TIMESTEP_PS, friction_per_ps=FRICTION_PER_PS)


def _start(sequence: str, seed: int) -> np.ndarray:
    """Extended zig-zag backbone along x; each side chain points away from it in a seeded direction."""
    rng = np.random.default_rng(seed)
    half = BACKBONE_ANGLE / 2
    xyz = []
    for i in range(len(sequence)):
        bb = np.array([i * BOND_NM["bb"] * np.sin(half), (i % 2) * BOND_NM["bb"] * np.cos(half), 0.0])
        phi = rng.uniform(-np.pi / 2, np.pi / 2)  # always away from the neighbours
        out = np.array([0.0, (1 if i % 2 else -1) * np.cos(phi), np.sin(phi)])
        out /= np.linalg.norm(out)
        xyz += [bb, bb + BOND_NM["bs"] * out, bb + (BOND_NM["bs"] + BOND_NM["ss"]) * out]
    return np.array(xyz)
