"""The propagator: embedding, dynamics and score networks behind the bundle contract.

``embed`` runs the embedding GNN once per system.  ``step`` predicts the Gaussian of the next
acceleration, samples the next positions

    x_{t+1} = x_t + (x_t − x_{t−1}) + mean + f · std · P(M) ξ,     ξ ~ N(0, 1) per bead and axis

(no velocity term when k = 1; P(M) couples the noise along the CG bonds, ``noise.CoupledNoise``, and
is the identity when ``noise_degree`` is 0; f is ``noise_scale``, 1 unless a sampler calibrated on
validation data says otherwise), then refines them with ``score_calls`` denoising steps on a
decreasing ladder of noise levels σ_i:  x ← x + α σ_i² s(x, σ_i)  (a damped Tweedie step), which
pushes beads out of collisions; with ``score_noise`` every call but the last also adds √(2α) σ_i ξ
(annealed Langevin), so that the refined samples keep their spread instead of collapsing onto the
most likely structure (what long steps need, where the score network rebuilds much of the
structure).  That is the ``refine`` sampler.  The ``diffusion`` sampler instead lets the score network
generate the step: it adds σ_0 noise to the Gaussian sample (σ_0 the ladder's top, several times the
spread, so the start is mostly noise around the predicted mean) and walks the ladder down with the
ancestral step of a variance-exploding diffusion (Song & Ermon 2019; Song et al. 2021),

    x ← x + (σ_i² − σ_{i+1}²) s(x, σ_i) + √((v + σ_{i+1}²)(σ_i² − σ_{i+1}²) / (v + σ_i²)) ξ,   at the last level  x ← x + σ² s(x, σ),

with v the Gaussian's variance per bead (noise_scale · std)²: the noise that makes each step exact when
the next frame is that Gaussian, between the limits v → 0 (Song & Ermon's ancestral step, too narrow
on a coarse ladder) and v → ∞ (the Euler–Maruyama step of the reverse SDE, too wide).  For an exact
score it draws from the data's distribution of the next frame (blurred by the last σ and its Tweedie
step) whatever shape it has, several modes included.  On a coarse ladder it does so only approximately where
that distribution is far from the Gaussian; ``score_correctors`` lists levels i at which one Langevin
corrector call (``_correct``: x ← x + α σ_i² s(x, σ_i) plus noise) precedes the ladder's step
(predictor–corrector, Song et al. 2021), each at the cost of one more score call.  Its ladder must lie inside the noise levels the
score network was trained on (``config.check_noise_ladder``).  Networks compute in their parameter dtype (float32 by default);
positions, velocities and updates are kept in the input's dtype (float64 from the integrator).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

from .dynamics import BeadDynamics
from .embedding import AtomEmbedding
from .noise import CoupledNoise
from .neighbors import BRUTE_FORCE_MAX, VERLET_SKIN, VerletList, bead_graph, bond_keys, join_bonds, radius_graph
from .score import ScoreNet

SAMPLERS = ("refine", "diffusion")  # ModelConfig.score_sampler


@dataclass
class ModelConfig:
    """Sizes and settings of the three networks and of sampling (lengths in nm, times in ps)."""

    history_length: int = 4          # k frames in, oldest first
    timestep_ps: float = 1.0         # the CG step of the training data
    hidden: int = 32                 # feature width H of every network (and of the bead embedding)
    atom_layers: int = 2
    atom_hops: int = 3               # atoms within this many bonds are neighbours in the embedding GNN
    dynamics_layers: int = 3
    score_layers: int = 2
    cutoff_nm: float = 1.0           # bead neighbour cutoff (CG bonds are edges at any length)
    max_neighbors: int = -1          # nearest neighbours kept per bead; -1 keeps all within the cutoff
    n_basis: int = 16                # Gaussian radial basis functions
    n_elements: int = 119            # vocabulary of atomic numbers (larger ones share the last entry)
    max_bond_count: int = 8          # vocabulary of bond counts
    neighbor_norm: float = 16.0      # messages are summed and divided by this
    min_std: float = 0.01            # floor of the predicted spread, in units of the acceleration scale
    noise_degree: int = 0            # Chebyshev degree of the noise's coupling along the CG bonds (0: independent)
    noise_scale: float = 1.0         # factor on the spread when sampling (a sampler setting: 1 in training)
    score_calls: int = 3             # denoising steps inside step(); 0 samples the Gaussian only
    score_sigma_max: float = 0.5     # noise ladder of the refinement, in units of the displacement scale
    score_sigma_min: float = 0.1
    score_step: float = 0.5          # α of the refinement step
    score_noise: bool = False        # Langevin refinement: each call but the last adds √(2α) σ_i ξ (keeps the spread)
    score_sampler: str = "refine"    # "refine": denoise the Gaussian sample; "diffusion": generate the step from σ_0 noise
    score_correctors: List[int] = field(default_factory=list)  # ladder levels given a Langevin corrector call (diffusion)

    def __post_init__(self):
        if self.score_sampler not in SAMPLERS:
            raise ValueError(f"score_sampler must be one of {SAMPLERS}, got '{self.score_sampler}'")
        self.score_correctors = sorted({int(level) for level in self.score_correctors})
        if self.score_correctors:
            if self.score_sampler != "diffusion":
                raise ValueError("score_correctors needs the diffusion sampler (score_sampler 'diffusion'), "
                                 f"got '{self.score_sampler}'")
            if self.score_correctors[0] < 0 or self.score_correctors[-1] >= self.score_calls:
                raise ValueError(f"score_correctors {self.score_correctors}: levels of a ladder of {self.score_calls} "
                                 f"score calls are 0..{self.score_calls - 1}")

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"ModelConfig: unknown settings {unknown}")
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def sigma_ladder(self) -> List[float]:
        """The refinement's noise levels, largest first, in units of the displacement scale."""
        if self.score_calls <= 0:
            return []
        if self.score_calls == 1:
            return [float(self.score_sigma_min)]
        ratio = math.log(self.score_sigma_min / self.score_sigma_max) / (self.score_calls - 1)
        return [float(self.score_sigma_max * math.exp(i * ratio)) for i in range(self.score_calls)]


class Propagator(nn.Module):
    """The three networks and the sampling loop; ``torch.jit.script`` it to get a bundle module."""

    # The ladder's type, declared for TorchScript (as an object: this module's annotations are strings),
    # so that an empty ladder (no score calls) still scripts.
    __annotations__ = {"score_sigmas": List[float], "score_correctors": List[int]}

    def __init__(self, config: ModelConfig):
        super().__init__()
        c = config
        if c.history_length < 1:
            raise ValueError(f"history_length must be >= 1, got {c.history_length}")
        self.history_length = int(c.history_length)
        self.timestep_ps = float(c.timestep_ps)
        self.cutoff_nm = float(c.cutoff_nm)
        self.max_neighbors = int(c.max_neighbors)
        self.brute_force_max = int(BRUTE_FORCE_MAX)
        self.verlet_skin = float(VERLET_SKIN)
        self.score_sigmas: List[float] = c.sigma_ladder()
        self.score_step = float(c.score_step)
        self.score_noise = bool(c.score_noise)
        self.diffusion = c.score_sampler == "diffusion"
        self.score_correctors: List[int] = list(c.score_correctors)
        self.noise_scale = float(c.noise_scale)
        self.embedding = AtomEmbedding(c.hidden, c.atom_layers, c.atom_hops, c.n_elements, c.max_bond_count)
        self.dynamics = BeadDynamics(c.hidden, c.history_length, c.dynamics_layers, c.cutoff_nm, c.n_basis,
                                     c.neighbor_norm, c.min_std)
        self.score = ScoreNet(c.hidden, c.hidden + 1, 2, c.score_layers, c.cutoff_nm, c.n_basis, c.neighbor_norm)
        self.noise = CoupledNoise(c.noise_degree)

    def set_scales(self, displacement_nm: float, acceleration_nm: float) -> None:
        """Length units of the networks: rms displacement and rms acceleration per CG step (nm)."""
        if not (displacement_nm > 0 and acceleration_nm > 0):
            raise ValueError(f"scales must be positive, got {displacement_nm}, {acceleration_nm}")
        self.dynamics.displacement_scale.fill_(displacement_nm)
        self.dynamics.acceleration_scale.fill_(acceleration_nm)
        self.score.length_scale.fill_(displacement_nm)

    def graph(self, positions: Tensor, bead_bonds: Tensor, batch: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """Bead graph at ``positions``: radius edges within the cutoff plus the CG bonds."""
        return bead_graph(positions, bead_bonds, self.cutoff_nm, batch, self.max_neighbors, self.brute_force_max)

    def _graph(self, positions: Tensor, bonded: Tensor, batch: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """``graph`` with the bonds given as their sorted keys (``bond_keys``), made once per step."""
        near = radius_graph(positions, self.cutoff_nm, batch, self.max_neighbors, self.brute_force_max)
        return join_bonds(near, bonded, positions.shape[0], positions.dtype)

    def predict(self, bead_embedding: Tensor, history: Tensor, bead_bonds: Tensor, batch: Optional[Tensor]
                ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """Predicted next positions' mean (n, 3, history's dtype), the mean acceleration (n, 3) and
        spread (n,) in the network's dtype, and the latent features (n, H)."""
        return self._predict(bead_embedding, history, bond_keys(bead_bonds, history.shape[1]), batch)

    def _predict(self, bead_embedding: Tensor, history: Tensor, bonded: Tensor, batch: Optional[Tensor]
                 ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        x = history[-1]
        edge_index, is_bond = self._graph(x, bonded, batch)
        acceleration, std, latent = self.dynamics(bead_embedding, history, edge_index, is_bond)
        mean = x + acceleration.to(x.dtype)
        if history.shape[0] > 1:
            mean = mean + (x - history[-2])
        return mean, acceleration, std, latent

    def score_at(self, positions: Tensor, sigma: Tensor, newest: Tensor, mean: Tensor, std: Tensor,
                 latent: Tensor, bead_bonds: Tensor, batch: Optional[Tensor]) -> Tensor:
        """Score (n, 3) at noisy ``positions`` for noise levels ``sigma`` (n,), given the newest frame
        and the prediction.  Conditioning: the offset from the predicted mean in units of the total
        spread √(std² + σ²) and the step from the newest frame; the latent features and log std."""
        edge_index, is_bond = self.graph(positions, bead_bonds, batch)
        return self._score(positions, sigma, newest, mean, std, self._conditioning(latent, std), edge_index, is_bond)

    def _conditioning(self, latent: Tensor, std: Tensor) -> Tensor:
        """The score network's invariant conditioning: the latent features and log std (n, H + 1)."""
        return torch.cat([latent, torch.log(std / self.score.length_scale).unsqueeze(1)], 1)

    def _score(self, positions: Tensor, sigma: Tensor, newest: Tensor, mean: Tensor, std: Tensor,
               conditioning: Tensor, edge_index: Tensor, is_bond: Tensor) -> Tensor:
        dtype = std.dtype
        spread = torch.sqrt(std * std + sigma.to(dtype) ** 2).unsqueeze(1)
        scale = self.score.length_scale
        vectors = torch.stack([(positions - mean).to(dtype) / spread, (positions - newest).to(dtype) / scale], -1)
        return self.score(positions, sigma, conditioning, vectors, edge_index, is_bond)

    def gaussian_sample(self, mean: Tensor, std: Tensor, bonded: Tensor, generator: Optional[torch.Generator]) -> Tensor:
        """mean + noise_scale · std · P(M) ξ in the mean's dtype, ξ drawn from ``generator``; ``bonded``:
        the bonds' keys (``bond_keys``)."""
        noise = self.noise(torch.randn(mean.shape, dtype=mean.dtype, device=mean.device, generator=generator), bonded)
        return mean + (self.noise_scale * std).to(mean.dtype).unsqueeze(1) * noise

    @torch.jit.export
    def embed(self, atom_features: Tensor, atom_bonds: Tensor, bead_of_atom: Tensor, atom_masses: Tensor) -> Tensor:
        """Bead embeddings (n_beads, H) from the atom graph; run once per system."""
        return self.embedding(atom_features, atom_bonds, bead_of_atom, atom_masses)

    @torch.jit.export
    def step(self, bead_embedding: Tensor, history: Tensor, bead_bonds: Tensor,
             generator: Optional[torch.Generator] = None) -> Tensor:
        """Next bead positions (n_beads, 3) in the history's dtype, from history (k, n_beads, 3) nm;
        every random number is drawn from ``generator`` (the integrator's own; None: torch's default)."""
        x = history[-1]
        bonded = bond_keys(bead_bonds, x.shape[0])  # the bonds' part of every graph of this step
        mean, acceleration, std, latent = self._predict(bead_embedding, history, bonded, None)
        positions = self._start(self.gaussian_sample(mean, std, bonded, generator), generator)
        conditioning = self._conditioning(latent, std)
        near = VerletList(self.cutoff_nm, self.verlet_skin, self.max_neighbors, self.brute_force_max)
        for i in range(len(self.score_sigmas)):
            if i in self.score_correctors:
                edge_index, is_bond = near.graph(positions, bonded)
                positions = self._correct(positions, i, x, mean, std, conditioning, edge_index, is_bond, generator)
            edge_index, is_bond = near.graph(positions, bonded)
            positions = self._refine(positions, i, x, mean, std, conditioning, edge_index, is_bond, generator)
        return positions

    def _start(self, positions: Tensor, generator: Optional[torch.Generator]) -> Tensor:
        """Where the score calls start: the Gaussian sample (refine), or it plus σ_0 noise (diffusion)."""
        if not self.diffusion or len(self.score_sigmas) == 0:
            return positions
        sigma = float(self.score.length_scale) * self.score_sigmas[0]
        return positions + sigma * torch.randn(positions.shape, dtype=positions.dtype, device=positions.device,
                                               generator=generator)

    def _correct(self, positions: Tensor, i: int, newest: Tensor, mean: Tensor, std: Tensor, conditioning: Tensor,
                 edge_index: Tensor, is_bond: Tensor, generator: Optional[torch.Generator]) -> Tensor:
        """A Langevin corrector call at level ``i`` of the ladder (diffusion, ``score_correctors``):
        x ← x + ε s(x, σ_i) + √(ε (2 − ε / (v + σ_i²))) ξ with ε = α σ_i² (α = ``score_step``) and v the
        Gaussian's variance, as in the ladder's steps.  It pulls what the ladder's coarse steps got wrong
        toward the distribution at that level, the data's blurred by σ_i (Song et al. 2021's
        predictor–corrector); its noise, a little below the plain Langevin step's 2ε, makes it leave
        N(mean, v + σ_i²) exactly in place, where the plain step would widen it by up to 2 / (2 − α)."""
        sigma = (self.score.length_scale * self.score_sigmas[i]).expand(newest.shape[0])
        score = self._score(positions, sigma, newest, mean, std, conditioning, edge_index, is_bond)
        epsilon = self.score_step * sigma * sigma
        spread = (self.noise_scale * std) ** 2
        kick = torch.sqrt(epsilon * (2.0 - epsilon / (spread + sigma * sigma))).to(newest.dtype).unsqueeze(1)
        return (positions + (epsilon.unsqueeze(1) * score).to(newest.dtype)
                + kick * torch.randn(newest.shape, dtype=newest.dtype, device=newest.device, generator=generator))

    def _refine(self, positions: Tensor, i: int, newest: Tensor, mean: Tensor, std: Tensor, conditioning: Tensor,
                edge_index: Tensor, is_bond: Tensor, generator: Optional[torch.Generator]) -> Tensor:
        """Score call ``i`` of the ladder on the bead graph given.  refine: x ← x + α σ_i² s(x, σ_i), plus
        √(2α) σ_i ξ with ``score_noise`` except at the last call (which only denoises).  diffusion: the
        reverse-diffusion step from σ_i to σ_{i+1} (module docstring), the Tweedie step at the last."""
        sigma = (self.score.length_scale * self.score_sigmas[i]).expand(newest.shape[0])
        score = self._score(positions, sigma, newest, mean, std, conditioning, edge_index, is_bond)
        last = i == len(self.score_sigmas) - 1
        if self.diffusion:
            lower = self.score.length_scale * (0.0 if last else self.score_sigmas[i + 1])
            variance = sigma * sigma - lower * lower
            positions = positions + (variance.unsqueeze(1) * score).to(newest.dtype)
            if not last:
                spread = (self.noise_scale * std) ** 2
                kick = torch.sqrt(variance * (spread + lower * lower) / (spread + sigma * sigma)).to(newest.dtype).unsqueeze(1)
                positions = positions + kick * torch.randn(newest.shape, dtype=newest.dtype, device=newest.device,
                                                           generator=generator)
            return positions
        positions = positions + (self.score_step * (sigma * sigma).unsqueeze(1) * score).to(newest.dtype)
        if self.score_noise and not last:
            kick = math.sqrt(2.0 * self.score_step) * sigma.to(newest.dtype).unsqueeze(1)
            positions = positions + kick * torch.randn(newest.shape, dtype=newest.dtype, device=newest.device,
                                                       generator=generator)
        return positions

    def sample(self, bead_embedding: Tensor, history: Tensor, bead_bonds: Tensor, batch: Tensor) -> Tensor:
        """What ``step`` draws, for a batch of windows (``batch``: each bead's window), with the bead
        graph built afresh at every refinement call (no Verlet list): differentiable in the weights
        through reparameterised noise, so that multi-step training can unroll it."""
        x = history[-1]
        bonded = bond_keys(bead_bonds, x.shape[0])
        mean, acceleration, std, latent = self._predict(bead_embedding, history, bonded, batch)
        positions = self._start(self.gaussian_sample(mean, std, bonded, None), None)
        conditioning = self._conditioning(latent, std)
        for i in range(len(self.score_sigmas)):
            if i in self.score_correctors:
                edge_index, is_bond = self._graph(positions, bonded, batch)
                positions = self._correct(positions, i, x, mean, std, conditioning, edge_index, is_bond, None)
            edge_index, is_bond = self._graph(positions, bonded, batch)
            positions = self._refine(positions, i, x, mean, std, conditioning, edge_index, is_bond, None)
        return positions
