"""A learned coarse-grained force field: E(x) = prior(x) + network(x), in kJ/mol, forces −∇E.

The prior keeps simulations physical where the data are thin (Boltzmann-inverted from the training
frames, ``fit_prior``): harmonic bonds in the length, harmonic angles in the cosine (smooth at 180°)
and a soft repulsion kT (σ/r)^6 between beads three or more bonds apart.  The network is the
project's equivariant PaiNN blocks on the bead graph (all pairs of a molecule, faded out smoothly at
the cutoff, CG bonds at full weight), started from the embedding GNN's bead features and read out as
one energy per bead.  The energy is E(3)-invariant by construction, so its forces are equivariant.
It is trained by force matching (``forcefield.train``) and run inside OpenMM by
``openmmtorch.TorchForce`` (``forcefield.system``).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import Tensor, nn

from ..nn.embedding import AtomEmbedding
from ..nn.layers import EdgeEncoder, PaiNNBlock, mlp, safe_norm

BOLTZMANN_KJ_PER_K = 0.00831446261815324


@dataclass
class ForceFieldConfig:
    """Sizes of the networks (lengths in nm) and the temperature the prior is inverted at."""

    hidden: int = 32
    atom_layers: int = 2
    atom_hops: int = 3
    layers: int = 3                  # PaiNN blocks on the bead graph
    cutoff_nm: float = 1.2           # pairs fade out smoothly to zero here (CG bonds never do)
    n_basis: int = 16
    neighbor_norm: float = 8.0
    n_elements: int = 119
    max_bond_count: int = 8
    temperature_k: float = 300.0

    @classmethod
    def from_dict(cls, values: dict) -> "ForceFieldConfig":
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"ForceFieldConfig: unknown settings {unknown}")
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


class Prior(nn.Module):
    """Bonds k_b/2 (r − r0)², angles k_a/2 (cos θ − c0)², repulsion kT (σ/r)^6; parameters are buffers
    set by ``fit_prior`` (one value per term type: the network learns what depends on the beads)."""

    def __init__(self, temperature_k: float):
        super().__init__()
        self.kt = float(BOLTZMANN_KJ_PER_K * temperature_k)
        for name, value in (("bond_r0", 0.4), ("bond_k", 1000.0), ("angle_c0", 0.0), ("angle_k", 10.0), ("sigma", 0.4)):
            self.register_buffer(name, torch.tensor(value, dtype=torch.float64))

    def forward(self, x: Tensor, bonds: Tensor, angles: Tensor, repulsive: Tensor) -> Tensor:
        """Total prior energy (kJ/mol) of positions ``x`` (n, 3) nm; bonds (2, B), angles (3, A), pairs (2, P)."""
        r = safe_norm(x.index_select(0, bonds[1]) - x.index_select(0, bonds[0]), -1)
        energy = 0.5 * self.bond_k.to(x.dtype) * ((r - self.bond_r0.to(x.dtype)) ** 2).sum()
        u = x.index_select(0, angles[0]) - x.index_select(0, angles[1])
        v = x.index_select(0, angles[2]) - x.index_select(0, angles[1])
        cos = (u * v).sum(-1) / (safe_norm(u, -1) * safe_norm(v, -1))
        energy = energy + 0.5 * self.angle_k.to(x.dtype) * ((cos - self.angle_c0.to(x.dtype)) ** 2).sum()
        d = safe_norm(x.index_select(0, repulsive[1]) - x.index_select(0, repulsive[0]), -1)
        return energy + self.kt * ((self.sigma.to(x.dtype) / d) ** 6).sum()


class CGForceField(nn.Module):
    """Prior plus PaiNN energy.  ``embed`` (atom graph → bead features) runs once per molecule;
    ``forward`` gives the total energy of positions in nm, in kJ/mol."""

    def __init__(self, config: ForceFieldConfig):
        super().__init__()
        h = config.hidden
        self.embedding = AtomEmbedding(h, config.atom_layers, config.atom_hops, config.n_elements, config.max_bond_count)
        self.prior = Prior(config.temperature_k)
        self.edges = EdgeEncoder(config.n_basis, config.cutoff_nm)
        self.message_scale = 1.0 / float(config.neighbor_norm)
        self.blocks = nn.ModuleList([PaiNNBlock(h, self.edges.n_features) for _ in range(config.layers)])
        self.energy_out = mlp([h, h, 1])
        self.hidden = h
        self.kt = float(BOLTZMANN_KJ_PER_K * config.temperature_k)

    @torch.jit.export
    def embed(self, atom_features: Tensor, atom_bonds: Tensor, bead_of_atom: Tensor, atom_masses: Tensor) -> Tensor:
        """Bead features (n_beads, H) of one molecule from its atom graph (see ``AtomEmbedding``)."""
        return self.embedding(atom_features, atom_bonds, bead_of_atom, atom_masses)

    def network_energy(self, x: Tensor, features: Tensor, edge_index: Tensor, is_bond: Tensor) -> Tensor:
        receiver, sender = edge_index[0], edge_index[1]
        dtype = features.dtype
        relative = (x.index_select(0, sender) - x.index_select(0, receiver)).to(dtype)
        edge_input, unit = self.edges.filter_input(relative, is_bond.to(dtype), self.message_scale)
        s = features
        v = torch.zeros(features.shape[0], 3, self.hidden, dtype=dtype, device=features.device)
        for block in self.blocks:
            s, v = block.propagate(s, v, receiver, sender, edge_input, unit)
        return self.kt * self.energy_out(s).sum()

    def forward(self, x: Tensor, features: Tensor, edge_index: Tensor, is_bond: Tensor, bonds: Tensor,
                angles: Tensor, repulsive: Tensor) -> Tensor:
        """Total energy (kJ/mol, a 0-d tensor in ``x``'s dtype) of bead positions ``x`` (n, 3) nm."""
        network = self.network_energy(x, features, edge_index, is_bond).to(x.dtype)
        return self.prior(x, bonds, angles, repulsive) + network


# ---- the terms of a molecule, and of several copies of it -------------------------------------------


def bond_distances(n_beads: int, bonds) -> np.ndarray:
    """Number of CG bonds between every two beads (a large value where no path joins them)."""
    far = n_beads + 1
    hops = np.full((n_beads, n_beads), far, dtype=np.int64)
    np.fill_diagonal(hops, 0)
    for i, j in bonds:
        hops[i, j] = hops[j, i] = 1
    for k in range(n_beads):  # Floyd–Warshall: molecules here have at most a few hundred beads
        hops = np.minimum(hops, hops[:, k:k + 1] + hops[k:k + 1, :])
    return hops


@dataclass
class Terms:
    """Index tensors of the energy for ``copies`` copies of one molecule (bead i of copy c is
    c·n_beads + i): the graph (both directions of every pair of a copy), its bond flags, and the
    prior's bonds, angles and repulsive pairs (three or more bonds apart)."""

    n_beads: int
    edge_index: Tensor
    is_bond: Tensor
    bonds: Tensor
    angles: Tensor
    repulsive: Tensor

    @classmethod
    def of(cls, n_beads: int, bonds, copies: int = 1) -> "Terms":
        from ..analysis import angle_triples

        hops = bond_distances(n_beads, bonds)
        i, j = np.nonzero(~np.eye(n_beads, dtype=bool))
        pairs_i, pairs_j = np.triu_indices(n_beads, 1)
        far = hops[pairs_i, pairs_j] >= 3
        bond_array = np.asarray(sorted(tuple(sorted(b)) for b in bonds), dtype=np.int64).reshape(-1, 2)
        pieces = {"edge_index": np.stack([i, j]), "bonds": bond_array.T,
                  "angles": angle_triples(bond_array).T, "repulsive": np.stack([pairs_i[far], pairs_j[far]])}
        is_bond = (hops[i, j] == 1).astype(np.float32)

        def tile(a: np.ndarray) -> Tensor:
            return torch.from_numpy(np.concatenate([a + c * n_beads for c in range(copies)], 1).astype(np.int64))

        return cls(n_beads * copies, tile(pieces["edge_index"]), torch.from_numpy(np.tile(is_bond, copies)),
                   tile(pieces["bonds"]), tile(pieces["angles"]), tile(pieces["repulsive"]))

    @staticmethod
    def join(parts: list["Terms"]) -> "Terms":
        """One disjoint set of terms from several (their beads concatenated in order)."""
        offsets = np.cumsum([0] + [p.n_beads for p in parts])

        def cat(name: str) -> Tensor:
            return torch.cat([getattr(p, name) + int(o) for p, o in zip(parts, offsets)], 1)

        return Terms(int(offsets[-1]), cat("edge_index"), torch.cat([p.is_bond for p in parts]),
                     cat("bonds"), cat("angles"), cat("repulsive"))
