"""The dynamics GNN: from bead embeddings and the last k frames to a Gaussian over the next
acceleration, a = x_{t+1} − 2 x_t + x_{t−1} (nm per CG step²), per bead.

Inputs are the k − 1 finite-difference displacements of the history (vectors) and the bead
embeddings (scalars); messages run on the bead graph at the newest frame.  With k = 1 there are no
displacements and the acceleration comes from structure alone.  Outputs: the mean acceleration
(equivariant vector), an isotropic spread per bead (invariant, positive) and latent invariant
features that condition the score network.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import EdgeEncoder, GatedVectorOutput, PaiNNBlock, mlp


class BeadDynamics(nn.Module):
    """PaiNN on the bead graph; lengths are measured in units of the buffers ``displacement_scale``
    (rms displacement per CG step) and ``acceleration_scale`` (rms acceleration), set from the
    training data, so that the network works on numbers of order one."""

    def __init__(self, hidden: int, history_length: int, n_layers: int = 3, cutoff: float = 1.0,
                 n_basis: int = 16, norm: float = 16.0, min_std: float = 0.01):
        super().__init__()
        self.hidden = hidden
        self.n_displacements = int(history_length) - 1
        self.min_std = float(min_std)
        self.message_scale = 1.0 / float(norm)
        self.register_buffer("displacement_scale", torch.tensor(0.1))
        self.register_buffer("acceleration_scale", torch.tensor(0.1))
        self.edges = EdgeEncoder(n_basis, cutoff)
        self.embedding_in = nn.Linear(hidden, hidden)
        m = max(self.n_displacements, 1)
        # Invariants of the displacements (their Gram matrix) and their channel mix.
        self.gram_in = mlp([m * m, hidden, hidden])
        self.vectors_in = nn.Linear(m, hidden, bias=False)
        self.blocks = nn.ModuleList([PaiNNBlock(hidden, self.edges.n_features) for _ in range(n_layers)])
        self.mean_out = GatedVectorOutput(hidden, 1)
        self.std_out = mlp([hidden, hidden, 1])

    def forward(self, embedding: Tensor, history: Tensor, edge_index: Tensor, is_bond: Tensor
                ) -> Tuple[Tensor, Tensor, Tensor]:
        """(n, H), (k, n, 3) nm, (2, E), (E,) -> mean (n, 3) nm, std (n,) nm, latent (n, H).

        Outputs are in the network's dtype; ``history`` may be of any float dtype (differences are
        taken in it before the cast, so float64 positions keep their precision).
        """
        dtype = self.embedding_in.weight.dtype
        n = history.shape[1]
        x = history[-1]
        receiver, sender = edge_index[0], edge_index[1]
        vectors = (x.index_select(0, sender) - x.index_select(0, receiver)).to(dtype)
        edge_input, unit = self.edges.filter_input(vectors, is_bond.to(dtype), self.message_scale)
        s = self.embedding_in(embedding.to(dtype))
        if self.n_displacements > 0:
            d = ((history[1:] - history[:-1]).to(dtype) / self.displacement_scale).permute(1, 2, 0)  # (n, 3, k-1)
        else:  # k = 1: no motion known; zero displacements keep every parameter in use (DDP needs that)
            d = torch.zeros(n, 3, 1, dtype=dtype, device=s.device)
        s = s + self.gram_in(torch.einsum("nxa,nxb->nab", d, d).reshape(n, -1))
        v = self.vectors_in(d)
        for block in self.blocks:
            s, v = block.propagate(s, v, receiver, sender, edge_input, unit)
        mean = self.mean_out(s, v)[..., 0] * self.acceleration_scale
        std = (F.softplus(self.std_out(s)[:, 0]) + self.min_std) * self.acceleration_scale
        return mean, std, s
