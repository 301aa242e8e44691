"""Analytic stand-in propagators that follow the propagator contract.

They are not learned models: they exercise and demonstrate CGMLIntegrator (tests, the benchmark of
integrator overhead, ``cgml compare`` without a bundle), and their trajectories are known in closed
form or by construction.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn


class _StandIn(nn.Module):
    def __init__(self, timestep_ps: float, history_length: int):
        super().__init__()
        self.timestep_ps = float(timestep_ps)
        self.history_length = int(history_length)

    @torch.jit.export
    def embed(self, atom_features: Tensor, atom_bonds: Tensor, bead_of_atom: Tensor, atom_masses: Tensor) -> Tensor:
        """Bead masses, (n_beads, 1)."""
        n_beads = int(bead_of_atom.max()) + 1
        masses = atom_masses.to(torch.float64)
        return masses.new_zeros([n_beads, 1]).index_add_(0, bead_of_atom, masses.unsqueeze(1))


class UniformDrift(_StandIn):
    """Every bead moves with the same constant velocity (nm/ps): x(t + dt) = x(t) + v dt."""

    def __init__(self, velocity=(0.1, 0.0, 0.0), timestep_ps: float = 1.0, history_length: int = 1):
        super().__init__(timestep_ps, history_length)
        self.register_buffer("velocity", torch.tensor(velocity, dtype=torch.float64))

    @torch.jit.export
    def step(self, bead_embedding: Tensor, history: Tensor, bead_bonds: Tensor,
             generator: Optional[torch.Generator] = None) -> Tensor:
        return history[-1] + self.velocity * self.timestep_ps


class BondedDiffusion(_StandIn):
    """Overdamped bead-spring chain (Euler–Maruyama Brownian dynamics of the beads).

    Bonded beads are held near ``rest_nm`` by springs of stiffness ``spring`` (kJ/mol/nm²), and
    every bead diffuses with D = kT / (mass · friction).  Units: nm, ps, amu, kJ/mol.
    """

    def __init__(self, rest_nm: float = 0.38, spring: float = 2000.0, friction_per_ps: float = 50.0,
                 temperature_k: float = 300.0, timestep_ps: float = 1.0, history_length: int = 1):
        super().__init__(timestep_ps, history_length)
        self.rest_nm = float(rest_nm)
        self.spring = float(spring)
        self.friction_per_ps = float(friction_per_ps)
        self.kt = 0.00831446261815324 * float(temperature_k)

    @torch.jit.export
    def step(self, bead_embedding: Tensor, history: Tensor, bead_bonds: Tensor,
             generator: Optional[torch.Generator] = None) -> Tensor:
        x = history[-1]
        mass = bead_embedding[:, :1].to(x.dtype)
        force = torch.zeros_like(x)
        if bead_bonds.shape[1] > 0:
            i, j = bead_bonds[0], bead_bonds[1]
            d = x[j] - x[i]
            r = (d * d).sum(1, keepdim=True).sqrt().clamp_min(1e-6)
            f = self.spring * (r - self.rest_nm) * d / r
            force = force.index_add(0, i, f).index_add(0, j, -f)
        gamma = mass * self.friction_per_ps
        # Keep each update below 20% of the spring's relaxation time, whatever the CG step.
        dt = torch.minimum(torch.full_like(gamma, self.timestep_ps), 0.2 * gamma / self.spring)
        noise = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator) * torch.sqrt(2.0 * self.kt * dt / gamma)
        return x + force * dt / gamma + noise
