"""Building blocks shared by the networks: radial bases, MLPs and PaiNN-style equivariant layers.

Equivariant features come in two kinds: scalars ``s`` of shape (n, H), invariant under rotations,
reflections and translations, and vectors ``v`` of shape (n, 3, H), which rotate with the input.
Vectors only ever enter through relative positions and are mixed over channels (never over the
spatial axis), and scalars are made from vectors only through norms and dot products, so every
layer is E(3)-equivariant by construction (Schütt et al., "Equivariant message passing for the
prediction of tensorial properties and molecular spectra", ICML 2021).
"""
from __future__ import annotations

import math
from typing import Tuple

import torch
from torch import Tensor, nn


def mlp(sizes: list[int], activate_last: bool = False) -> nn.Sequential:
    """Linear layers of the given sizes with SiLU between them."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or activate_last:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


def safe_norm(x: Tensor, dim: int, keepdim: bool = False, eps: float = 1e-8) -> Tensor:
    """Euclidean norm with a finite gradient at zero."""
    return torch.sqrt((x * x).sum(dim, keepdim=keepdim) + eps)


class GaussianBasis(nn.Module):
    """Gaussians of r with centres evenly spaced on [0, cutoff] and width the spacing."""

    def __init__(self, n_basis: int, cutoff: float):
        super().__init__()
        self.register_buffer("centres", torch.linspace(0.0, cutoff, n_basis))
        self.inverse_width = float((n_basis - 1) / cutoff)

    def forward(self, r: Tensor) -> Tensor:
        """(E,) -> (E, n_basis)."""
        return torch.exp(-0.5 * ((r.unsqueeze(-1) - self.centres) * self.inverse_width) ** 2)


class CosineCutoff(nn.Module):
    """Smooth switch from 1 at r = 0 to 0 at the cutoff (zero beyond)."""

    def __init__(self, cutoff: float):
        super().__init__()
        self.cutoff = float(cutoff)

    def forward(self, r: Tensor) -> Tensor:
        inside = (r < self.cutoff).to(r.dtype)
        return 0.5 * (torch.cos(r * (math.pi / self.cutoff)) + 1.0) * inside


class EdgeEncoder(nn.Module):
    """Invariant edge features of a bead graph: a radial basis of the length and the bond flag.

    Radius edges fade out smoothly at the cutoff; bonds keep full weight at any length.
    Returns ``(features (E, n_basis + 1), weight (E, 1), unit vectors (E, 3))``.
    """

    def __init__(self, n_basis: int, cutoff: float):
        super().__init__()
        self.basis = GaussianBasis(n_basis, cutoff)
        self.envelope = CosineCutoff(cutoff)
        self.n_features = n_basis + 1

    def forward(self, vectors: Tensor, is_bond: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        r = safe_norm(vectors, -1)
        features = torch.cat([self.basis(r), is_bond.unsqueeze(-1)], -1)
        weight = torch.maximum(self.envelope(r), is_bond).unsqueeze(-1)
        return features, weight, vectors / r.unsqueeze(-1)


class PaiNNMessage(nn.Module):
    """Messages from senders j to receivers i along edges, summed and scaled by 1/``norm``.

    Δs_i = Σ_j φ_s(s_j) W_s(e_ij);  Δv_i = Σ_j φ_vv(s_j) W_vv(e_ij) v_j + φ_vr(s_j) W_vr(e_ij) r̂_ij.
    The filters W are linear without bias, so the edge weight (cutoff envelope) and 1/norm are
    applied to the few edge features rather than to the 3H filter values.
    """

    def __init__(self, hidden: int, n_edge_features: int, norm: float):
        super().__init__()
        self.hidden = hidden
        self.phi = mlp([hidden, hidden, 3 * hidden])
        self.filter = nn.Linear(n_edge_features, 3 * hidden, bias=False)
        self.scale = 1.0 / float(norm)

    def forward(self, s: Tensor, v: Tensor, edge_index: Tensor, edge_features: Tensor, edge_weight: Tensor,
                unit: Tensor) -> Tuple[Tensor, Tensor]:
        receiver, sender = edge_index[0], edge_index[1]
        x = self.phi(s)[sender] * self.filter(edge_features * (edge_weight * self.scale))
        ds, dvv, dvr = torch.split(x, self.hidden, -1)
        dv = dvv.unsqueeze(1) * v[sender] + dvr.unsqueeze(1) * unit.unsqueeze(-1)
        s = s.index_add(0, receiver, ds)
        v = v.index_add(0, receiver, dv)
        return s, v


class PaiNNUpdate(nn.Module):
    """Per-node mixing of scalars and vectors: gates from (s, |V v|), and the dot product <U v, V v>."""

    def __init__(self, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.u = nn.Linear(hidden, hidden, bias=False)
        self.w = nn.Linear(hidden, hidden, bias=False)
        self.gates = mlp([2 * hidden, hidden, 3 * hidden])

    def forward(self, s: Tensor, v: Tensor) -> Tuple[Tensor, Tensor]:
        uv = self.u(v)
        wv = self.w(v)
        a = self.gates(torch.cat([s, safe_norm(wv, 1)], -1))
        a_vv, a_sv, a_ss = torch.split(a, self.hidden, -1)
        v = v + a_vv.unsqueeze(1) * uv
        s = s + a_ss + a_sv * (uv * wv).sum(1)
        return s, v


class PaiNNBlock(nn.Module):
    """One message pass followed by one update, with layer norm on the scalars."""

    def __init__(self, hidden: int, n_edge_features: int, norm: float):
        super().__init__()
        self.message = PaiNNMessage(hidden, n_edge_features, norm)
        self.update = PaiNNUpdate(hidden)
        self.layer_norm = nn.LayerNorm(hidden)

    def forward(self, s: Tensor, v: Tensor, edge_index: Tensor, edge_features: Tensor, edge_weight: Tensor,
                unit: Tensor) -> Tuple[Tensor, Tensor]:
        s, v = self.message(s, v, edge_index, edge_features, edge_weight, unit)
        s, v = self.update(self.layer_norm(s), v)
        return s, v


class GatedVectorOutput(nn.Module):
    """Equivariant read-out: ``n_vectors`` vectors per node, each a channel mix of v gated by scalars."""

    def __init__(self, hidden: int, n_vectors: int):
        super().__init__()
        self.mix = nn.Linear(hidden, hidden, bias=False)
        self.gate = mlp([2 * hidden, hidden, hidden])
        self.out = nn.Linear(hidden, n_vectors, bias=False)

    def forward(self, s: Tensor, v: Tensor) -> Tensor:
        """(n, H), (n, 3, H) -> (n, 3, n_vectors)."""
        mixed = self.mix(v)
        gate = self.gate(torch.cat([s, safe_norm(mixed, 1)], -1))
        return self.out(gate.unsqueeze(1) * mixed)


class InvariantMessage(nn.Module):
    """Scalar message passing with residual update: h_i += MLP([h_i, Σ_j φ(h_j) ⊙ W(e_ij) / norm])."""

    def __init__(self, hidden: int, n_edge_features: int, norm: float):
        super().__init__()
        self.phi = mlp([hidden, hidden])
        self.filter = nn.Linear(n_edge_features, hidden)
        self.update = mlp([2 * hidden, hidden, hidden])
        self.layer_norm = nn.LayerNorm(hidden)
        self.scale = 1.0 / float(norm)

    def forward(self, h: Tensor, edge_index: Tensor, edge_features: Tensor) -> Tensor:
        receiver, sender = edge_index[0], edge_index[1]
        messages = self.phi(h)[sender] * self.filter(edge_features) * self.scale
        pooled = torch.zeros_like(h).index_add(0, receiver, messages)
        return h + self.update(torch.cat([self.layer_norm(h), pooled], -1))
