"""Peptides: PDB → pdbfixer (missing atoms, hydrogens) → amber14 with GBn2 implicit solvent.

``build_extended`` writes a backbone-only PDB of a capped peptide in an extended conformation from
ideal internal coordinates; pdbfixer then adds side chains and hydrogens.  That is how the shipped
alanine dipeptide and chignolin (GYDPETGTWG) were made, with no download.
"""
from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit

from . import MolecularSystem

FORCEFIELD = ("amber14-all.xml", "implicit/gbn2.xml")
THREE_LETTER = {"A": "ALA", "R": "ARG", "N": "ASN", "D": "ASP", "C": "CYS", "E": "GLU", "Q": "GLN", "G": "GLY",
                "H": "HIS", "I": "ILE", "L": "LEU", "K": "LYS", "M": "MET", "F": "PHE", "P": "PRO", "S": "SER",
                "T": "THR", "W": "TRP", "Y": "TYR", "V": "VAL"}


def shipped_pdb(name: str = "alanine-dipeptide") -> Path:
    """Path of a PDB file shipped with the package."""
    path = resources.files("openmm_cgml") / "data" / f"{name}.pdb"
    if not path.is_file():
        raise FileNotFoundError(f"no shipped PDB named '{name}'")
    return Path(str(path))


def prepare(pdb_path, ph: float = 7.0, seed: int = 1) -> tuple[app.Topology, unit.Quantity]:
    """Repair a PDB with pdbfixer: standard residues, missing heavy atoms, hydrogens at ``ph``.

    pdbfixer places new atoms at random and minimises them on the default platform; ``seed`` and a
    single CPU thread (a fixed summation order) make the result reproducible.
    """
    import random

    from pdbfixer import PDBFixer

    pdb_path = Path(pdb_path)
    if not pdb_path.is_file():
        raise FileNotFoundError(f"PDB file '{pdb_path}' does not exist")
    cpu = openmm.Platform.getPlatformByName("CPU")
    threads = cpu.getPropertyDefaultValue("Threads")
    cpu.setPropertyDefaultValue("Threads", "1")
    try:
        fixer = PDBFixer(filename=str(pdb_path))
        fixer.findMissingResidues()
        fixer.missingResidues = {}  # never invent residues that the file does not have
        fixer.findNonstandardResidues()
        fixer.replaceNonstandardResidues()
        fixer.findMissingAtoms()
        random.seed(seed)
        fixer.addMissingAtoms(seed=seed)
        fixer.addMissingHydrogens(ph)
    except Exception as error:
        raise ValueError(f"pdbfixer could not repair '{pdb_path}': {error}") from None
    finally:
        cpu.setPropertyDefaultValue("Threads", threads)
    if fixer.topology.getNumAtoms() == 0:
        raise ValueError(f"'{pdb_path}' has no atoms")
    return fixer.topology, fixer.positions


# How a peptide is simulated: force field files, classical step, friction, hydrogen mass (None: as is).
ENVIRONMENTS = {
    "gbn2": dict(forcefield=FORCEFIELD, timestep_ps=0.002, friction_per_ps=1.0, hydrogen_mass_amu=None),
    # In vacuum ~100x cheaper than GBn2; hydrogen-mass repartitioning (4 amu) allows 4 fs steps.
    "vacuum": dict(forcefield=("amber14-all.xml",), timestep_ps=0.004, friction_per_ps=1.0, hydrogen_mass_amu=4.0),
    # GBn2 with hydrogen-mass repartitioning at 4 fs: the tuned classical baseline of the same Hamiltonian.
    "gbn2-hmr": dict(forcefield=FORCEFIELD, timestep_ps=0.004, friction_per_ps=1.0, hydrogen_mass_amu=4.0),
}


def load(pdb_path=None, forcefield=None, environment: str = "gbn2", temperature_k: float = 300.0) -> MolecularSystem:
    """A peptide ready to simulate: repaired topology and an amber14 System (no cutoff, H-bond
    constraints) in ``environment`` ('gbn2': implicit solvent, 2 fs; 'vacuum': 4 fs with
    hydrogen-mass repartitioning) at ``temperature_k``.  ``forcefield`` replaces the environment's files."""
    if environment not in ENVIRONMENTS:
        raise ValueError(f"peptides.load: unknown environment '{environment}'; choose from {sorted(ENVIRONMENTS)}")
    settings = ENVIRONMENTS[environment]
    forcefield = tuple(forcefield or settings["forcefield"])
    pdb_path = Path(pdb_path) if pdb_path is not None else shipped_pdb()
    topology, positions = prepare(pdb_path)
    try:
        extra = {"hydrogenMass": settings["hydrogen_mass_amu"] * unit.amu} if settings["hydrogen_mass_amu"] else {}
        system = app.ForceField(*forcefield).createSystem(topology, nonbondedMethod=app.NoCutoff,
                                                          constraints=app.HBonds, **extra)
    except Exception as error:
        raise ValueError(f"{', '.join(forcefield)} cannot parameterise '{pdb_path}': {error}") from None
    return MolecularSystem(topology, system, positions, str(pdb_path), forcefield, timestep_ps=settings["timestep_ps"],
                           friction_per_ps=settings["friction_per_ps"], temperature_k=float(temperature_k))


def _place(a, b, c, bond, angle, torsion):
    """Position of the atom bonded to c, given the previous three atoms (natural extension reference frame)."""
    angle, torsion = np.radians(angle), np.radians(torsion)
    bc = (c - b) / np.linalg.norm(c - b)
    n = np.cross(b - a, bc)
    n /= np.linalg.norm(n)
    m = np.cross(n, bc)
    d = np.array([-bond * np.cos(angle), bond * np.sin(angle) * np.cos(torsion), bond * np.sin(angle) * np.sin(torsion)])
    return c + d[0] * bc + d[1] * m + d[2] * n


def build_extended(sequence: str) -> str:
    """Backbone PDB text (Å) of ACE-sequence-NME, extended (phi -150°, psi 150°); side chains left to pdbfixer."""
    unknown = sorted(set(sequence) - set(THREE_LETTER))
    if not sequence or unknown:
        raise ValueError(f"peptide sequence '{sequence}' has unknown residue letters {unknown}")
    names = ["ACE"] + [THREE_LETTER[s] for s in sequence] + ["NME"]
    # Backbone chain with the role that sets each atom's bond, angle and torsion: the cap methyls act as CA.
    chain = [("CH3", 0, "CA"), ("C", 0, "C")]
    for r in range(1, len(names) - 1):
        chain += [("N", r, "N"), ("CA", r, "CA"), ("C", r, "C")]
    chain += [("N", len(names) - 1, "N"), ("C", len(names) - 1, "CA")]
    bond = {"N": 1.33, "CA": 1.46, "C": 1.52}
    angle = {"N": 116.2, "CA": 121.7, "C": 111.2}
    torsion = {"N": 150.0, "CA": 180.0, "C": -150.0}  # psi (before N), omega (before CA), phi (before C)
    xyz = [np.array([0.0, 0.0, 0.0]), np.array([1.52, 0.0, 0.0]), np.array([2.05, 1.24, 0.0])]
    for k in range(3, len(chain)):
        role = chain[k][2]
        xyz.append(_place(xyz[k - 3], xyz[k - 2], xyz[k - 1], bond[role], angle[role], torsion[role]))
    atoms = []
    for k, (name, r, role) in enumerate(chain):
        atoms.append((name, r, xyz[k]))
        if role == "C":  # carbonyl O, trans to the next N
            o = _place(xyz[k + 1], xyz[k - 1], xyz[k], 1.23, 120.5, 180.0)
            atoms.append(("O", r, o))
    out = io.StringIO()
    for serial, (name, r, (x, y, z)) in enumerate(atoms, start=1):
        record = "HETATM" if names[r] in ("ACE", "NME") else "ATOM  "
        out.write(f"{record}{serial:5d} {name:<4s} {names[r]:3s} A{r + 1:4d}    {x:8.3f}{y:8.3f}{z:8.3f}"
                  f"  1.00  0.00          {name[0]:>2s}\n")
    out.write("TER\nEND\n")
    return out.getvalue()
