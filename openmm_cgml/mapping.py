"""Atom → bead mappings: which bead each atom belongs to, with mass-weighted bead centres.

A mapping is plain data (bead index per atom, atom masses in amu) and round-trips through JSON.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openmm.app as app
import openmm.unit as unit
import torch

from .units import plain_array


@dataclass(frozen=True)
class BeadMapping:
    """Beads numbered 0..n_beads-1 without gaps; ``bead_of_atom[i]`` is the bead of atom i."""

    bead_of_atom: tuple[int, ...]
    atom_masses: tuple[float, ...]
    method: str = "custom"

    def __post_init__(self):
        beads = np.asarray(self.bead_of_atom, dtype=np.int64)
        masses = np.asarray(self.atom_masses, dtype=np.float64)
        if beads.ndim != 1 or masses.shape != beads.shape:
            raise ValueError(f"BeadMapping: {beads.size} bead indices but {masses.size} atom masses")
        if beads.size == 0:
            raise ValueError("BeadMapping: no atoms")
        if beads.min() < 0:
            raise ValueError(f"BeadMapping: negative bead index {int(beads.min())}")
        present = np.bincount(beads)
        missing = np.flatnonzero(present == 0)
        if missing.size:
            raise ValueError(f"BeadMapping: bead numbers must have no gaps; no atom is in bead {int(missing[0])}")
        bead_mass = np.bincount(beads, weights=masses)
        empty = np.flatnonzero(bead_mass <= 0)
        if empty.size:
            raise ValueError(f"BeadMapping: bead {int(empty[0])} has zero total mass")

    @classmethod
    def per_residue(cls, topology: app.Topology, system) -> "BeadMapping":
        """One bead per residue of ``topology``, weighted by the particle masses of ``system``."""
        check_sizes(topology, system)
        beads = [atom.residue.index for atom in topology.atoms()]
        return cls(tuple(beads), particle_masses(system), "residue")

    @classmethod
    def by_clustering(cls, topology: app.Topology, system, atoms_per_bead: float = 3.0, seed: int = 0) -> "BeadMapping":
        """Beads from repeated graclus matching of the bond graph (torch-cluster), down to about
        ``atoms_per_bead`` atoms a bead.

        Every bead is connected (graclus only merges bonded clusters), and merges that would make a
        bead larger than 1.5 × ``atoms_per_bead`` are not offered, so beads are of similar size; among
        the rest, pairs of small clusters are preferred.  Atoms are visited in a canonical order
        (chain, residue, atom name) and the random order of graclus is seeded, so the result does not
        depend on how the input numbers the atoms of each residue; beads are numbered along that canonical order.
        """
        from torch_cluster import graclus_cluster

        check_sizes(topology, system)
        if atoms_per_bead < 1:
            raise ValueError(f"BeadMapping.by_clustering: atoms_per_bead must be at least 1, got {atoms_per_bead}")
        atoms = list(topology.atoms())
        order = sorted(range(len(atoms)), key=lambda i: (atoms[i].residue.chain.index, atoms[i].residue.index,
                                                          atoms[i].name, i))
        rank = np.empty(len(atoms), dtype=np.int64)
        rank[order] = np.arange(len(atoms))
        bonds = torch.tensor([(rank[a.index], rank[b.index]) for a, b in topology.bonds()], dtype=torch.long).reshape(-1, 2)
        cluster = torch.arange(len(atoms))  # cluster of each atom, in canonical numbering
        max_size = max(2, int(round(1.5 * atoms_per_bead)))
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            while True:
                size = torch.bincount(cluster).double()
                if size.mean() >= atoms_per_bead or len(bonds) == 0:
                    break
                pairs = torch.unique(torch.sort(cluster[bonds], dim=1).values, dim=0)
                pairs = pairs[(pairs[:, 0] != pairs[:, 1]) & (size[pairs].sum(1) <= max_size)]
                if len(pairs) == 0:
                    break
                weight = 1.0 / size[pairs].prod(1)
                matched = graclus_cluster(torch.cat([pairs[:, 0], pairs[:, 1]]), torch.cat([pairs[:, 1], pairs[:, 0]]),
                                          torch.cat([weight, weight]), num_nodes=len(size))
                merged = torch.unique(matched, return_inverse=True)[1]
                if int(merged.max()) + 1 == len(size):
                    break
                cluster = merged[cluster]
        # Number the beads in order of their first atom in the canonical order.
        first = torch.full((int(cluster.max()) + 1,), len(atoms), dtype=torch.long).scatter_reduce(
            0, cluster, torch.arange(len(atoms)), "amin")
        label = torch.empty_like(first)
        label[torch.argsort(first)] = torch.arange(len(first))
        beads = label[cluster][torch.as_tensor(rank)]
        return cls(tuple(beads.tolist()), particle_masses(system), f"graclus:{atoms_per_bead:g}")

    @classmethod
    def united_atom(cls, topology: app.Topology, system) -> "BeadMapping":
        """One bead per heavy atom, with the hydrogens bonded to it (united atoms): the bead centres
        keep the backbone's shape, so dihedrals such as phi and psi can be read from beads.  Beads are
        numbered in the order of their heavy atoms."""
        check_sizes(topology, system)
        atoms = list(topology.atoms())
        heavy = [a.index for a in atoms if not _is_hydrogen(a)]
        if not heavy:
            raise ValueError("BeadMapping.united_atom: the Topology has no heavy atoms")
        bead = {index: b for b, index in enumerate(heavy)}
        beads = [bead.get(a.index, -1) for a in atoms]
        for a, b in topology.bonds():
            for h, other in ((a, b), (b, a)):
                if _is_hydrogen(h) and not _is_hydrogen(other):
                    beads[h.index] = bead[other.index]
        orphans = [a.name for a in atoms if beads[a.index] < 0]
        if orphans:
            raise ValueError(f"BeadMapping.united_atom: hydrogens {orphans[:5]} are not bonded to a heavy atom")
        return cls(tuple(beads), particle_masses(system), "united-atom")

    @classmethod
    def create(cls, method: str, topology: app.Topology, system) -> "BeadMapping":
        """A mapping from its method string, as stored in ``method``: 'residue', 'united-atom' or
        'graclus:ATOMS_PER_BEAD'."""
        if method == "residue":
            return cls.per_residue(topology, system)
        if method == "united-atom":
            return cls.united_atom(topology, system)
        if method.startswith("graclus:"):
            return cls.by_clustering(topology, system, float(method.split(":", 1)[1]))
        raise ValueError(f"unknown mapping method '{method}': use 'residue', 'united-atom' or 'graclus:ATOMS_PER_BEAD'")

    @classmethod
    def from_metadata(cls, metadata: dict, topology: app.Topology, system) -> "BeadMapping":
        """The beads a bundle was trained with (the mapping method in its metadata), else one per residue."""
        return cls.create(metadata.get("mapping") or "residue", topology, system)

    @classmethod
    def of_integrator(cls, integrator, system) -> "BeadMapping":
        """The beads a CGMLIntegrator was given (its bead assignment), with the System's masses."""
        beads = tuple(integrator.getBeadAssignment()) or tuple(range(system.getNumParticles()))
        method = json.loads(integrator.getMetadata()).get("mapping") or "custom"
        mapping = cls(beads, particle_masses(system), method)
        mapping.require_covers(system)
        return mapping

    def require_covers(self, system, where: str = "BeadMapping") -> None:
        """Raise ValueError unless the mapping has one entry per particle of ``system``."""
        if self.n_atoms != system.getNumParticles():
            raise ValueError(f"{where}: the mapping covers {self.n_atoms} atoms but the System has "
                             f"{system.getNumParticles()} particles")

    @property
    def n_atoms(self) -> int:
        return len(self.bead_of_atom)

    @property
    def n_beads(self) -> int:
        return max(self.bead_of_atom) + 1

    def bead_masses(self) -> np.ndarray:
        """Total mass of each bead (amu)."""
        return np.bincount(self.bead_of_atom, weights=self.atom_masses, minlength=self.n_beads)

    def centres(self, positions) -> np.ndarray:
        """Mass-weighted bead centres of positions shaped (..., n_atoms, 3), in the same units."""
        x = plain_array(positions)
        if x.shape[-2:] != (self.n_atoms, 3):
            raise ValueError(f"BeadMapping.centres: positions have shape {x.shape}, expected (..., {self.n_atoms}, 3)")
        beads = torch.tensor(self.bead_of_atom)
        weights = torch.tensor(self.atom_masses, dtype=torch.float64) / torch.tensor(self.bead_masses())[beads]
        weighted = torch.from_numpy(x) * weights[:, None]
        out = weighted.new_zeros(x.shape[:-2] + (self.n_beads, 3))
        return out.index_add_(-2, beads, weighted).numpy()

    def bead_bonds(self, atom_bonds) -> list[tuple[int, int]]:
        """Bead pairs (i < j) joined by at least one atom bond."""
        pairs = {tuple(sorted((self.bead_of_atom[i], self.bead_of_atom[j]))) for i, j in atom_bonds}
        return sorted(p for p in pairs if p[0] != p[1])

    def to_json(self) -> str:
        return json.dumps({"method": self.method, "bead_of_atom": list(self.bead_of_atom),
                           "atom_masses": list(self.atom_masses)})

    @classmethod
    def from_json(cls, text: str) -> "BeadMapping":
        data = json.loads(text)
        return cls(tuple(int(b) for b in data["bead_of_atom"]), tuple(float(m) for m in data["atom_masses"]),
                   data.get("method", "custom"))

    def save(self, path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path) -> "BeadMapping":
        return cls.from_json(Path(path).read_text())


def check_sizes(topology: app.Topology, system) -> None:
    """Raise ValueError unless the Topology and the System have the same number of atoms."""
    if topology.getNumAtoms() != system.getNumParticles():
        raise ValueError(f"the Topology has {topology.getNumAtoms()} atoms but the System has "
                         f"{system.getNumParticles()} particles")


def _is_hydrogen(atom) -> bool:
    return atom.element is not None and atom.element.atomic_number == 1


def particle_masses(system) -> tuple[float, ...]:
    return tuple(system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(system.getNumParticles()))
