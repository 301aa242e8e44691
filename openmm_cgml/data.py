"""Training windows: k history frames of bead positions plus the frame one CG step later.

A ``WindowBatch`` holds several windows, possibly of different systems, as one disjoint graph:
atoms and beads of all windows are concatenated and the index tensors are offset accordingly.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class WindowBatch:
    atom_features: Tensor  # (n_atoms, F) int64, columns as integrator.ATOM_FEATURES
    atom_bonds: Tensor     # (2, E) int64, global atom indices, each bond once
    bead_of_atom: Tensor   # (n_atoms,) int64, global bead indices
    atom_masses: Tensor    # (n_atoms,) float64, amu
    bead_bonds: Tensor     # (2, E_b) int64, global bead indices, each bond once with i < j
    bead_graph: Tensor     # (n_beads,) int64, the window each bead belongs to
    history: Tensor        # (k, n_beads, 3) float64, nm, oldest frame first
    target: Tensor         # (n_beads, 3) float64, nm, the frame one CG step after history[-1]
    n_graphs: int

    @property
    def n_beads(self) -> int:
        return self.bead_graph.shape[0]

    def to(self, device) -> "WindowBatch":
        return WindowBatch(**{name: value.to(device) if isinstance(value, Tensor) else value
                              for name, value in self.__dict__.items()})


def collate(windows: list[WindowBatch]) -> WindowBatch:
    """One disjoint graph from several batches: concatenate, offsetting atom, bead and graph indices."""
    if not windows:
        raise ValueError("collate: no windows")
    k = {w.history.shape[0] for w in windows}
    if len(k) != 1:
        raise ValueError(f"collate: windows have different history lengths {sorted(k)}")
    atom_offsets = torch.tensor([0] + [w.atom_features.shape[0] for w in windows]).cumsum(0)
    bead_offsets = torch.tensor([0] + [w.n_beads for w in windows]).cumsum(0)
    graph_offsets = torch.tensor([0] + [w.n_graphs for w in windows]).cumsum(0)
    return WindowBatch(
        atom_features=torch.cat([w.atom_features for w in windows]),
        atom_bonds=torch.cat([w.atom_bonds + atom_offsets[i] for i, w in enumerate(windows)], 1),
        bead_of_atom=torch.cat([w.bead_of_atom + bead_offsets[i] for i, w in enumerate(windows)]),
        atom_masses=torch.cat([w.atom_masses for w in windows]),
        bead_bonds=torch.cat([w.bead_bonds + bead_offsets[i] for i, w in enumerate(windows)], 1),
        bead_graph=torch.cat([w.bead_graph + graph_offsets[i] for i, w in enumerate(windows)]),
        history=torch.cat([w.history for w in windows], 1),
        target=torch.cat([w.target for w in windows]),
        n_graphs=int(graph_offsets[-1]),
    )
