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
