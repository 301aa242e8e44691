"""The embedding GNN: invariant atom features from the bond graph, mean-pooled to beads.

``embed`` gets no positions, so the atom graph is the bond graph widened to atoms within
``max_hops`` bonds of each other (the atom-level neighbourhood), with the bond distance as the
edge feature.  Everything it sees is invariant, so its output is invariant by construction.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import InvariantMessage, mlp
from .neighbors import bond_hops


class AtomEmbedding(nn.Module):
    """Atoms (atomic number, bond count, mass) → ``n_layers`` message passes → bead means (n_beads, H).

    Atomic numbers above ``n_elements - 1`` and bond counts above ``max_bond_count`` share the
    last entry of their table.  Bead mass and atom count are appended before the final MLP.
    """

    def __init__(self, hidden: int, n_layers: int = 3, max_hops: int = 3, n_elements: int = 119,
                 max_bond_count: int = 8, norm: float = 8.0):
        super().__init__()
        self.hidden = hidden
        self.max_hops = int(max_hops)
        self.n_elements = int(n_elements)
        self.max_bond_count = int(max_bond_count)
        self.element = nn.Embedding(n_elements, hidden)
        self.bond_count = nn.Embedding(max_bond_count + 1, hidden)
        self.mass = nn.Linear(1, hidden)
        self.layers = nn.ModuleList([InvariantMessage(hidden, max_hops, norm) for _ in range(n_layers)])
        self.bead = mlp([hidden + 2, hidden, hidden])

    def forward(self, atom_features: Tensor, atom_bonds: Tensor, bead_of_atom: Tensor, atom_masses: Tensor) -> Tensor:
        """(n_atoms, F) int64, (2, E) int64, (n_atoms,) int64, (n_atoms,) float -> (n_beads, H)."""
        n_atoms = bead_of_atom.shape[0]
        dtype = self.mass.weight.dtype
        edge_index, hops = bond_hops(atom_bonds, n_atoms, self.max_hops)
        if atom_features.shape[1] >= 2:
            degree = atom_features[:, 1]
        else:
            degree = torch.bincount(atom_bonds.reshape(-1), minlength=n_atoms)
        masses = atom_masses.to(dtype).unsqueeze(1)
        h = (self.element(atom_features[:, 0].clamp(0, self.n_elements - 1))
             + self.bond_count(degree.clamp(0, self.max_bond_count))
             + self.mass(torch.log(masses.clamp_min(0.1) / 12.0)))
        edge_features = F.one_hot(hops - 1, self.max_hops).to(dtype)
        for layer in self.layers:
            h = layer(h, edge_index, edge_features)
        n_beads = int(bead_of_atom.max()) + 1
        count = torch.zeros(n_beads, 1, dtype=dtype, device=h.device).index_add(0, bead_of_atom, torch.ones_like(masses))
        bead_mass = torch.zeros_like(count).index_add(0, bead_of_atom, masses)
        pooled = torch.zeros(n_beads, self.hidden, dtype=dtype, device=h.device).index_add(0, bead_of_atom, h) / count
        return self.bead(torch.cat([pooled, torch.log(bead_mass.clamp_min(0.1) / 12.0), torch.log(count)], -1))
