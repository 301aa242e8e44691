"""Force-matching data: the atom forces of saved reference frames, projected onto beads.

The reference runs save positions and their System (``reference.run``), and forces are a function of
positions, so the forces of any saved frame are recomputed here exactly (double precision, Reference
platform) instead of being stored a second time.  A bead's force is the sum of the forces on its
atoms: for beads that are disjoint groups of atoms placed at their centres of mass, this is the
force map whose average is the mean force of the many-body potential of mean force (Noid et al.,
J. Chem. Phys. 128, 244114, 2008), which is what force matching fits.  Constraint forces do not
enter it as long as every constraint joins atoms of the same bead.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import openmm
import openmm.unit as unit
import torch
from torch import Tensor

from ..data import read_run, run_paths
from ..features import atom_bonds, atom_features
from ..mapping import BeadMapping


@dataclass
class ForceFrames:
    """Frames of one reference run at the bead level, with the mapped forces, and what ``embed`` needs."""

    name: str
    atom_features: Tensor  # (n_atoms, F) int64
    atom_bonds: Tensor     # (2, E) int64
    bead_of_atom: Tensor   # (n_atoms,) int64
    atom_masses: Tensor    # (n_atoms,) float64
    bead_bonds: list
    positions: Tensor      # (n_frames, n_beads, 3) float64, nm
    forces: Tensor         # (n_frames, n_beads, 3) float64, kJ/mol/nm
    temperature_k: float

    @property
    def n_beads(self) -> int:
        return self.positions.shape[1]


def constraints_within_beads(system: openmm.System, mapping: BeadMapping) -> None:
    """A clear error if a constraint joins two beads (its force would be missing from the bead forces)."""
    for c in range(system.getNumConstraints()):
        i, j, _ = system.getConstraintParameters(c)
        if mapping.bead_of_atom[i] != mapping.bead_of_atom[j]:
            raise ValueError(f"constraint {c} joins atoms {i} and {j} of beads {mapping.bead_of_atom[i]} and "
                             f"{mapping.bead_of_atom[j]}: force matching needs every constraint inside a bead")


def mapped_forces(system: openmm.System, mapping: BeadMapping, xyz: np.ndarray) -> np.ndarray:
    """Bead forces (n_frames, n_beads, 3), kJ/mol/nm, of atom positions ``xyz`` (n_frames, n_atoms, 3) nm."""
    constraints_within_beads(system, mapping)
    if xyz.ndim != 3 or xyz.shape[1:] != (system.getNumParticles(), 3):
        raise ValueError(f"mapped_forces: positions have shape {xyz.shape}, expected (frames, {system.getNumParticles()}, 3)")
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    beads = np.asarray(mapping.bead_of_atom)
    out = np.zeros((xyz.shape[0], mapping.n_beads, 3))
    for f, frame in enumerate(xyz):
        context.setPositions(frame.astype(np.float64))
        forces = context.getState(getForces=True).getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
        np.add.at(out[f], beads, forces)
    return out


def load_force_frames(h5_path, every: int = 10, discard_frames: int = 0, mapping_method: str = "residue") -> ForceFrames:
    """Every ``every``-th saved frame of one reference run (after ``discard_frames``), mapped to beads
    with their forces."""
    metadata, system, trajectory = read_run(h5_path)
    topology = trajectory.topology.to_openmm()
    mapping = BeadMapping.create(mapping_method, topology, system)
    xyz = trajectory.xyz[discard_frames::every].astype(np.float64)
    bonds = atom_bonds(topology)
    return ForceFrames(
        name=metadata["name"],
        atom_features=torch.tensor(atom_features(topology), dtype=torch.long),
        atom_bonds=torch.tensor(bonds, dtype=torch.long).reshape(-1, 2).T.contiguous(),
        bead_of_atom=torch.tensor(mapping.bead_of_atom),
        atom_masses=torch.tensor(mapping.atom_masses, dtype=torch.float64),
        bead_bonds=mapping.bead_bonds(bonds),
        positions=torch.from_numpy(mapping.centres(xyz)),
        forces=torch.from_numpy(mapped_forces(system, mapping, xyz)),
        temperature_k=float(metadata["temperature_k"]),
    )


def load_force_split(dataset_dir, split: str, every: int = 10, discard_frames: int = 0,
                     mapping_method: str = "residue", progress: bool = True) -> list[ForceFrames]:
    """The force frames of every run of one split of a dataset."""
    from tqdm import tqdm

    paths = run_paths(dataset_dir, split)
    return [load_force_frames(p, every, discard_frames, mapping_method)
            for p in tqdm(paths, desc=f"{split} forces", unit="run", disable=not progress)]
