"""Noise that couples beads along the CG bonds: a Gaussian whose covariance is a learned function of
the bead-bond graph, with an exact likelihood and sampling in O(degree · bonds).

The sample is  y = s ⊙ P(M) ξ,  ξ ~ N(0, 1) per bead and axis, where s is the dynamics network's
spread per bead and M = D^{-1/2} A D^{-1/2} the bond graph's normalised adjacency (A the bonds, D
their count per bead; a bead without bonds has a zero row), whose eigenvalues lie in [−1, 1] for
every molecule.  P(M) = Σ_k c_k T_k(M) is a Chebyshev series with learned coefficients c, so each
eigenvector of M (on a chain: the Rouse modes, whole-chain motion at λ = 1 and bond-scale motion at
λ = −1) gets its own amplitude P(λ).  The covariance per axis is S P(M)² S, and with M = V Λ V^T the
negative log-likelihood of a residual r is

    ½ Σ_axes |P(Λ)^{-1} V^T (r / s)|² + 3 Σ_i log s_i + 3 Σ_λ log |P(λ)| + (3n/2) log 2π,

computed per molecule from the eigenvectors of its (small, dense) M while training.  Degree 0 is the
independent noise of the first models (P ≡ 1, no parameter), so their bundles load unchanged.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor, nn

from .neighbors import bond_keys


def normalised_adjacency(bonded: Tensor, n: int, dtype: torch.dtype) -> Tuple[Tensor, Tensor, Tensor]:
    """Receivers, senders and weights 1/√(d_i d_j) of M's non-zero entries, from the bonds' sorted keys
    (``neighbors.bond_keys``: both directions of every bond once, no self bonds)."""
    receiver, sender = bonded // n, bonded % n
    degree = torch.zeros(n, dtype=dtype, device=bonded.device).index_add_(
        0, receiver, torch.ones(receiver.shape[0], dtype=dtype, device=bonded.device))
    weight = torch.rsqrt(degree.index_select(0, receiver) * degree.index_select(0, sender))
    return receiver, sender, weight


def adjacency_times(x: Tensor, receiver: Tensor, sender: Tensor, weight: Tensor) -> Tensor:
    """M x for ``x`` (n, columns), M given by ``normalised_adjacency`` (weight of shape (E, 1))."""
    return torch.zeros_like(x).index_add_(0, receiver, weight * x.index_select(0, sender))


class CoupledNoise(nn.Module):
    """P(M) of the module docstring, of a given Chebyshev degree (0: the identity)."""

    def __init__(self, degree: int):
        super().__init__()
        if degree < 0:
            raise ValueError(f"the noise coupling's degree must be >= 0, got {degree}")
        self.degree = int(degree)
        if self.degree > 0:  # P ≡ 1 to start with: training starts from independent noise
            self.coefficients = nn.Parameter(torch.cat([torch.ones(1), torch.zeros(self.degree)]))
        else:  # no parameter: degree-0 models keep the state dict of the models before the coupling
            self.coefficients = torch.ones(1)

    def forward(self, noise: Tensor, bonded: Tensor) -> Tensor:
        """P(M) applied to ``noise`` (n, 3), in its dtype; ``bonded``: the bonds' keys (``bond_keys``)."""
        if self.degree == 0:
            return noise
        n = noise.shape[0]
        receiver, sender, weight = normalised_adjacency(bonded, n, noise.dtype)
        weight = weight.unsqueeze(1)
        c = self.coefficients.to(noise.dtype)
        previous = noise
        current = adjacency_times(noise, receiver, sender, weight)
        out = c[0] * previous + c[1] * current
        for k in range(2, self.degree + 1):
            following = 2.0 * adjacency_times(current, receiver, sender, weight) - previous
            out = out + c[k] * following
            previous, current = current, following
        return out

    def amplitudes(self, eigenvalues: Tensor) -> Tensor:
        """P(λ) at eigenvalues λ of M (any shape), in their dtype."""
        c = self.coefficients.to(eigenvalues.dtype)
        lam = eigenvalues
        previous, current = torch.ones_like(lam), lam
        out = c[0] * previous + c[1] * current
        for k in range(2, self.degree + 1):
            previous, current = current, 2.0 * lam * current - previous
            out = out + c[k] * current
        return out

    @torch.jit.unused
    def whitened(self, z: Tensor, bead_bonds: Tensor, bead_graph: Tensor, n_graphs: int) -> Tuple[Tensor, Tensor]:
        """For z = r / s (n, axes) of molecules ``bead_graph`` (beads of a molecule contiguous): the sum of
        |P(Λ)^{-1} V^T z|² over axes and molecules, and Σ log |P(λ)| over every bead's eigenvalue."""
        n = z.shape[0]
        counts = torch.bincount(bead_graph, minlength=n_graphs)
        size = int(counts.max())
        first = torch.cumsum(counts, 0) - counts
        local = torch.arange(n, device=z.device) - first[bead_graph]
        receiver, sender, weight = normalised_adjacency(bond_keys(bead_bonds, n), n, torch.float64)
        with torch.no_grad():  # M depends on the bonds only: no gradient flows through eigh
            dense = torch.zeros(n_graphs, size, size, dtype=torch.float64, device=z.device)
            dense[bead_graph[receiver], local[receiver], local[sender]] = weight
            eigenvalues, eigenvectors = torch.linalg.eigh(dense)
        padded = torch.zeros(n_graphs, size, z.shape[1], dtype=torch.float64, device=z.device)
        padded[bead_graph, local] = z.to(torch.float64)
        projected = eigenvectors.transpose(1, 2) @ padded                        # (G, size, axes)
        amplitude = self.amplitudes(eigenvalues)                                 # (G, size)
        quadratic = ((projected / amplitude.unsqueeze(-1)) ** 2).sum()
        # Padding beads have no bonds: eigenvalue 0, no residual; their log |P(0)| is taken back out.
        log_det = torch.log(amplitude.abs()).sum() - (size - counts).sum() * torch.log(self.amplitudes(eigenvalues.new_zeros(1)).abs()[0])
        return quadratic.to(z.dtype), log_det.to(z.dtype)
