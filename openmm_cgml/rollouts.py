"""Scores of the model's own rollouts, for multi-step training (``TrainConfig.rollout_steps``).

``rollout_score`` rolls the propagator's sampler forward from data histories (reparameterised, so that
gradients reach every network) and scores the rollouts against the data's next frames: the CRPS of
per-window Rg² and bead MSD, of the distances of beads one and two CG bonds apart, the batch's bias of
Rg² (``size_bias``, scored by ``size_drift``) and the gaps between the pooled distributions of bond
lengths and angles and the data's at the data's quantiles, tails included (``quantile_gaps``, scored
by ``tail_gap``).  ``train.Objective`` weighs them into the loss.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .analysis import angle_triples
from .nn import Propagator
from .nn.neighbors import bond_hops


def window_means(values: Tensor, bead_graph: Tensor, n_graphs: int) -> Tensor:
    """Per-window means of per-bead values (n_beads, ...) -> (n_graphs, ...)."""
    total = values.new_zeros((n_graphs,) + values.shape[1:]).index_add(0, bead_graph, values)
    count = torch.bincount(bead_graph, minlength=n_graphs).to(values.dtype)
    return total / count.reshape((n_graphs,) + (1,) * (values.dim() - 1))


def rollout_statistics(x: Tensor, start: Tensor, bead_graph: Tensor, n_graphs: int) -> Tensor:
    """Per window: Rg² (beads weighted alike) and the beads' mean squared displacement from ``start`` (nm²), (n_graphs, 2)."""
    centre = window_means(x, bead_graph, n_graphs)
    rg2 = window_means(((x - centre[bead_graph]) ** 2).sum(1), bead_graph, n_graphs)
    msd = window_means(((x - start) ** 2).sum(1), bead_graph, n_graphs)
    return torch.stack([rg2, msd], 1)


def crps(samples: Tensor, truth: Tensor) -> Tensor:
    """Continuous ranked probability score of an ensemble (S, ...) against observations (...): mean |X − y|
    − ½ mean over pairs s ≠ t of |X_s − X_t| (a proper score: lowest in expectation when the ensemble's
    distribution is the data's, spread included)."""
    s = samples.shape[0]
    skill = (samples - truth.unsqueeze(0)).abs().mean(0)
    spread = (samples.unsqueeze(0) - samples.unsqueeze(1)).abs().sum((0, 1)) / (2 * s * (s - 1))
    return skill - spread


def local_pairs(bead_bonds: Tensor, n: int) -> Tensor:
    """Bead pairs one or two CG bonds apart, each once (2, P): the bond lengths and the 1–3 distances that,
    with them, set the bond angles."""
    pairs = bond_hops(bead_bonds, n, 2)[0]
    return pairs[:, pairs[0] < pairs[1]]


def bond_angles(x: Tensor, triples: Tensor) -> Tensor:
    """Angle (radians) at j of each triple (i, j, k) in the columns of ``triples`` (3, T) -> (T,):
    ``analysis.bond_angles`` with gradients, as atan2 of |u × v| and u · v (finite at 0 and π)."""
    u = x.index_select(0, triples[0]) - x.index_select(0, triples[1])
    v = x.index_select(0, triples[2]) - x.index_select(0, triples[1])
    return torch.atan2(torch.linalg.cross(u, v).norm(dim=1), (u * v).sum(1))


# Levels of the pooled distributions compared by ``quantile_gaps``: both tails and the bulk.
TAIL_LEVELS = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def quantile_gaps(model: Tensor, truth: Tensor, width: float) -> Tensor:
    """How far the rollouts' pooled distribution of one quantity (bond lengths, say) is from the data's,
    (len(TAIL_LEVELS),): at each level q, the data's q-quantile t (pooled over the batch's steps and
    items), and there F_model(t) − F_data(t) over √(q (1 − q)), the sampling sd of an empirical CDF at q
    (Anderson–Darling's weight, so that a tail's error counts as much as the bulk's).  The CDFs are
    smoothed with a logistic step ``width`` times the data's sd wide on both sides (the smoothing's bias
    cancels), so the gaps have gradients.  A per-item CRPS barely sees a tail: one percent of the samples
    too close moves it by little.  ``model`` (samples, steps, M), ``truth`` (steps, M); no items gives
    zeros."""
    levels = torch.tensor(TAIL_LEVELS, dtype=truth.dtype, device=truth.device)
    data = truth.reshape(-1).detach()
    if data.numel() < 2:
        return torch.zeros_like(levels)
    t = torch.quantile(data, levels).unsqueeze(1)
    scale = width * data.std().clamp_min(1e-12)
    model_cdf = torch.sigmoid((t - model.reshape(1, -1).to(t.dtype)) / scale).mean(1)
    data_cdf = torch.sigmoid((t - data.unsqueeze(0)) / scale).mean(1)
    return (model_cdf - data_cdf) / torch.sqrt(levels * (1 - levels))


def tail_gap(gaps: Tensor, running: Optional[Tensor] = None) -> Tensor:
    """The mean squared gap of ``quantile_gaps`` (K, Q).  With ``running`` (K, Q), the gaps averaged over
    earlier batches, the gradient is 2 · running · ∇gaps instead (the value is the same): one batch
    holds a few dozen samples in a 1 % tail, whose noise would otherwise steer as much as the gap."""
    value = (gaps ** 2).mean()
    if running is None:
        return value
    return value.detach() + (2 * running.to(gaps.dtype) * (gaps - gaps.detach())).mean()


def pair_distances(x: Tensor, pairs: Tensor) -> Tensor:
    """|x_i − x_j| of the pairs (2, P) -> (P,)."""
    return (x.index_select(0, pairs[0]) - x.index_select(0, pairs[1])).norm(dim=1)


def local_shape(x: Tensor, bonds: Tensor, triples: Tensor) -> tuple[Tensor, Tensor]:
    """Bond lengths (nm) of ``bonds`` (2, B) and bond angles (radians) of ``triples`` (3, T) of one frame."""
    return pair_distances(x, bonds), bond_angles(x, triples)


def rollout_score(model: Propagator, embedding: Tensor, history: Tensor, future: Tensor, bead_bonds: Tensor,
                  bead_graph: Tensor, n_graphs: int, samples: int, local: bool = False,
                  size_units: Optional[Tensor] = None, tail_width: float = 0.0) -> tuple[Tensor, Tensor, Tensor]:
    """Multi-step training: ``samples`` rollouts of len(future) steps per window with the model's own
    sampler (``Propagator.sample``, refinement included), each step's new frame the next step's newest
    history frame.  Returns two scores (dimensionless), each averaged over steps: the CRPS of per-window
    Rg² (over the true start's, or over ``size_units`` (n_graphs,) nm² where given) and bead MSD (over 3 × the displacement scale²) against the true frames;
    and, with ``local``, the CRPS of the distance of every bead pair one or two CG bonds apart (over the
    displacement scale; bonds and angles, which the per-window figures do not see), else 0.  Also returns
    each rollout's bias of the batch's size after each step (``size_bias``; samples, steps), and, with
    ``tail_width`` > 0, the ``quantile_gaps`` of the bond lengths and of the bond angles over all steps
    and samples (2, Q), else zeros."""
    start = history[-1]
    truth = torch.stack([rollout_statistics(f, start, bead_graph, n_graphs) for f in future])  # (n, G, 2)
    scale = float(model.dynamics.displacement_scale)
    start_rg2 = rollout_statistics(start, start, bead_graph, n_graphs)[:, 0]
    norm = torch.stack([start_rg2 if size_units is None else size_units.to(start.dtype),
                        torch.full((n_graphs,), 3 * scale ** 2, dtype=start.dtype, device=start.device)], 1)
    pairs = local_pairs(bead_bonds, start.shape[0]) if local else None
    bonds = triples = None
    if tail_width > 0:
        bonds = bead_bonds[:, bead_bonds[0] != bead_bonds[1]]
        triples = torch.as_tensor(angle_triples(bonds.T.tolist()), device=bonds.device).T
    runs, distances, shapes = [], [], []
    for _ in range(samples):
        h, stats, near, shape = history, [], [], []
        for _ in range(future.shape[0]):
            x = model.sample(embedding, h, bead_bonds, bead_graph)
            stats.append(rollout_statistics(x, start, bead_graph, n_graphs))
            if pairs is not None:
                near.append(pair_distances(x, pairs))
            if triples is not None:
                shape.append(local_shape(x, bonds, triples))
            h = torch.cat([h[1:], x.unsqueeze(0)])
        runs.append(torch.stack(stats))
        if pairs is not None:
            distances.append(torch.stack(near))
        if triples is not None:
            shapes.append([torch.stack(kind) for kind in zip(*shape)])          # [lengths (n, B), angles (n, T)]
    runs = torch.stack(runs)                                                            # (samples, n, G, 2)
    windows = crps(runs / norm, truth / norm).mean()
    bias = size_bias(runs[..., 0], truth[..., 0], start_rg2)
    gaps = torch.zeros(2, len(TAIL_LEVELS), dtype=windows.dtype, device=windows.device)
    if triples is not None:
        true_shape = [torch.stack(kind) for kind in zip(*[local_shape(f, bonds, triples) for f in future])]
        gaps = torch.stack([quantile_gaps(torch.stack([run[kind] for run in shapes]), true_shape[kind], tail_width)
                            for kind in range(2)]).to(windows.dtype)
    if pairs is None or pairs.shape[1] == 0:
        return torch.stack([windows, torch.zeros_like(windows)]), bias, gaps
    true_distances = torch.stack([pair_distances(f, pairs) for f in future])
    local_score = crps(torch.stack(distances) / scale, true_distances / scale).mean().to(windows.dtype)
    return torch.stack([windows, local_score]), bias, gaps


def size_bias(rg2: Tensor, true_rg2: Tensor, start_rg2: Tensor) -> Tensor:
    """Each rollout's bias of the batch's mean Rg² after each step (samples, steps): the mean over windows
    of (Rg²_model − Rg²_data) / Rg²_start, over the rms of the data's per-window (Rg² − Rg²_start) / Rg²_start.
    Its mean over many windows is the pull of the chains' size back to its mean that a sampler with few
    score calls loses (``benchmarks/rouse_modes.py`` measures it per step from MD histories).
    ``rg2`` (samples, steps, G), ``true_rg2`` (steps, G), ``start_rg2`` (G,), nm²."""
    bias = ((rg2 - true_rg2.unsqueeze(0)) / start_rg2).mean(-1)
    spread = (((true_rg2 - start_rg2) / start_rg2) ** 2).mean(-1).clamp_min(1e-12).sqrt()
    return bias / spread.detach()


def size_drift(bias: Tensor, running: Optional[Tensor] = None) -> Tensor:
    """The squared size bias, averaged over steps, from ``size_bias`` (samples, steps): the mean over pairs
    s ≠ t of b_s b_t, an unbiased estimate whose gradient does not reward narrower samples (the square of
    one sample's bias would).  Within one batch the bias is buried under the windows' own noise (about
    1/√G of the spread, against a bias of a few hundredths), so with ``running`` (steps,), an estimate of
    the bias over many earlier batches, the gradient is instead 2 · running · ∇ mean_s b_s: the batch's
    mean steered by a steady estimate of how far off it is (the value is the same)."""
    s = bias.shape[0]
    pairs = ((bias.sum(0) ** 2 - (bias ** 2).sum(0)) / (s * (s - 1))).mean()
    if running is None:
        return pairs
    mean = bias.mean(0)
    return pairs.detach() + (2 * running.to(mean.dtype) * (mean - mean.detach())).mean()


class RunningMean:
    """Exponential running mean over batches with Adam's start-up correction; ``memory`` batches wide."""

    def __init__(self, memory: int):
        self.decay = 1.0 - 1.0 / memory
        self.total: Optional[Tensor] = None
        self.count = 0

    def value(self) -> Optional[Tensor]:
        """The mean so far (None before the first update)."""
        return None if self.total is None else self.total / (1 - self.decay ** self.count)

    def update(self, value: Tensor) -> Optional[Tensor]:
        """Add ``value`` (detached); returns the mean of the values before it, so that a batch is never
        steered by its own noise."""
        before = self.value()
        value = value.detach()
        self.total = (1 - self.decay) * value if self.total is None else self.decay * self.total + (1 - self.decay) * value
        self.count += 1
        return before
