"""The score GNN: ∇ log p_σ of the next bead positions, for noisy positions at noise level σ.

It runs on the bead graph of the noisy positions (so it sees beads that come too close) and is
conditioned on invariant features (the dynamics latent and predicted spread) and on equivariant
vectors per bead (e.g. the offset from the predicted mean), both prepared by the propagator.
Trained by denoising score matching; used by the propagator to refine sampled positions.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .layers import EdgeEncoder, GatedVectorOutput, PaiNNBlock, mlp


class ScoreNet(nn.Module):
    """PaiNN over noisy positions; predicts the noise ε̂ (dimensionless) and returns −ε̂/σ (nm⁻¹).

    ``length_scale`` (buffer, nm) sets the unit in which σ enters as the invariant log(σ/scale).
    """

    def __init__(self, hidden: int, n_conditioning: int, n_vectors: int, n_layers: int = 2,
                 cutoff: float = 1.0, n_basis: int = 16, norm: float = 16.0):
        super().__init__()
        self.register_buffer("length_scale", torch.tensor(0.1))
        self.message_scale = 1.0 / float(norm)
        self.edges = EdgeEncoder(n_basis, cutoff)
        self.scalars_in = mlp([n_conditioning + 1, hidden, hidden])
        self.vectors_in = nn.Linear(n_vectors, hidden, bias=False)
        self.blocks = nn.ModuleList([PaiNNBlock(hidden, self.edges.n_features) for _ in range(n_layers)])
        self.noise_out = GatedVectorOutput(hidden, 1)

    def forward(self, positions: Tensor, sigma: Tensor, conditioning: Tensor, vectors: Tensor,
                edge_index: Tensor, is_bond: Tensor) -> Tensor:
        """(n, 3) nm, (n,) nm, (n, C), (n, 3, A), (2, E), (E,) -> score (n, 3) nm⁻¹ in the network's dtype."""
        dtype = self.vectors_in.weight.dtype
        receiver, sender = edge_index[0], edge_index[1]
        relative = (positions.index_select(0, sender) - positions.index_select(0, receiver)).to(dtype)
        edge_input, unit = self.edges.filter_input(relative, is_bond.to(dtype), self.message_scale)
        sigma = sigma.to(dtype)
        s = self.scalars_in(torch.cat([conditioning.to(dtype), torch.log(sigma / self.length_scale).unsqueeze(1)], 1))
        v = self.vectors_in(vectors.to(dtype))
        for block in self.blocks:
            s, v = block.propagate(s, v, receiver, sender, edge_input, unit)
        return -self.noise_out(s, v)[..., 0] / sigma.unsqueeze(1)
