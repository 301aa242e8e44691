"""Alanine-dipeptide kinetics from bead positions: backbone dihedrals, Ramachandran histograms,
core-set (milestoning) states, populations, rates, mean first-passage times, the implied timescales of
a small Markov model, and a bootstrap over whole trajectories.

The beads are the heavy atoms, so phi (C-N-CA-C) and psi (N-CA-C-N) are read straight from bead
positions.  Units: nm, ps, radians; dihedrals lie in (-pi, pi] with the IUPAC sign.  Every state
function takes one trajectory (a 1-d array) or a list of independent trajectories (replicas): they
are pooled, never joined end to start.  State -1 means "not yet assigned" and is skipped.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .. import analysis
from . import estimators

# Per state, the phi intervals (radians, closed) of its core: 0 "C7eq/beta" (phi < -0.5 or phi > 2.6,
# the left-handed region), 1 "C7ax/alphaL" (0.3 < phi < 2.0).  The gaps between cores are not states.
PHI_CORES = (((-np.pi, -0.5), (2.6, np.pi)), ((0.3, 2.0),))
STATE_NAMES = ("C7eq/beta", "C7ax/alphaL")
# The psi cores of the fast conformational change: 0 extended (beta/PII, psi > 1.8 or psi < -2.6),
# 1 helical (-1.2 < psi < 0.3).  At 600 K in vacuum it happens some 60 times a nanosecond (phi's
# change about once), so short runs measure its rate.
PSI_CORES = (((1.8, np.pi), (-np.pi, -2.6)), ((-1.2, 0.3),))


def _trajectories(data, name: str) -> tuple[list[np.ndarray], bool]:
    """(list of 1-d arrays, whether a single trajectory was given)."""
    single = not (isinstance(data, (list, tuple)) and len(data) > 0 and np.ndim(data[0]) >= 1)
    trajectories = [np.asarray(data)] if single else [np.asarray(t) for t in data]
    for t in trajectories:
        if t.ndim != 1:
            raise ValueError(f"{name}: expected a 1-d trajectory or a list of them, got shape {t.shape}")
    return trajectories, single


def _states(states, n_states: int, name: str) -> list[np.ndarray]:
    trajectories, _ = _trajectories(states, name)
    out = []
    for s in trajectories:
        if s.size and not np.issubdtype(s.dtype, np.integer):
            raise ValueError(f"{name}: states must be integers, got dtype {s.dtype}")
        s = s.astype(np.int64)
        if s.size and s.max() >= n_states:
            raise ValueError(f"{name}: state {s.max()} found with n_states={n_states}")
        out.append(s)
    return out


def dihedrals(x, quadruples) -> np.ndarray:
    """Dihedral angle (radians, (-pi, pi], IUPAC sign) of each quadruple (i, j, k, l) of ``x``
    (n_frames, n, 3) in each frame: (n_frames, n_quadruples)."""
    x = np.asarray(x, dtype=np.float64)
    x = x[None] if x.ndim == 2 else x
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"dihedrals: positions must be shaped (n_frames, n, 3), got {x.shape}")
    q = np.asarray(quadruples, dtype=np.int64).reshape(-1, 4)
    if q.size and (q.min() < 0 or q.max() >= x.shape[1]):
        raise ValueError(f"dihedrals: quadruple indices outside 0..{x.shape[1] - 1}")
    p0, p1, p2, p3 = (x[:, q[:, k]] for k in range(4))
    b1, b2, b3 = p1 - p0, p2 - p1, p3 - p2
    n1, n2 = np.cross(b1, b2), np.cross(b2, b3)
    sine = np.linalg.norm(b2, axis=-1) * np.sum(b1 * n2, -1)
    angle = np.arctan2(sine, np.sum(n1 * n2, -1))
    return np.where(angle <= -np.pi, np.pi, angle)


def _pooled(values) -> np.ndarray:
    if isinstance(values, (list, tuple)) and values and np.ndim(values[0]) >= 1:
        return np.concatenate([np.ravel(v) for v in values]).astype(np.float64)
    return np.ravel(np.asarray(values, dtype=np.float64))


def ramachandran_histogram(phi, psi, bins: int = 36) -> np.ndarray:
    """Probabilities (bins, bins), axis 0 phi and axis 1 psi, of the finite (phi, psi) pairs on
    [-pi, pi]²; NaN where there are none.  Lists of replicas are pooled."""
    phi, psi = _pooled(phi), _pooled(psi)
    if phi.shape != psi.shape:
        raise ValueError(f"ramachandran_histogram: {phi.size} phi values for {psi.size} psi values")
    keep = np.isfinite(phi) & np.isfinite(psi)
    counts, _, _ = np.histogram2d(phi[keep], psi[keep], bins=bins, range=[[-np.pi, np.pi], [-np.pi, np.pi]])
    total = counts.sum()
    return counts / total if total else np.full(counts.shape, np.nan)


def ramachandran_js(phi_a, psi_a, phi_b, psi_b, bins: int = 36) -> float:
    """Jensen–Shannon divergence (bits, in [0, 1]) between two Ramachandran histograms."""
    return analysis.js_divergence(ramachandran_histogram(phi_a, psi_a, bins),
                                  ramachandran_histogram(phi_b, psi_b, bins))


def in_core(angle, intervals) -> np.ndarray:
    """Whether each angle (radians) lies in one of the closed ``intervals`` of a core."""
    angle = np.asarray(angle)
    inside = np.zeros(angle.shape, dtype=bool)
    for low, high in intervals:
        inside |= (angle >= low) & (angle <= high)
    return inside


def _milestone(phi: np.ndarray, cores) -> np.ndarray:
    core = np.full(phi.shape, -1, dtype=np.int64)
    for state, intervals in enumerate(cores):
        inside = in_core(phi, intervals)
        if np.any(inside & (core >= 0)):
            raise ValueError(f"core_states: the core of state {state} overlaps an earlier one")
        core[inside] = state
    last = np.maximum.accumulate(np.where(core >= 0, np.arange(core.size), -1)) if core.size else core
    return np.where(last >= 0, core[last], -1)


def core_states(phi, cores=PHI_CORES):
    """Core-set (milestoning) states: each frame gets the state of the last core its phi visited,
    -1 before the first visit, so a brief excursion into a gap between cores is no transition.

    ``cores``: per state, a tuple of closed (low, high) phi intervals in radians (default
    ``PHI_CORES``).  A list of trajectories gives a list of state arrays.
    """
    trajectories, single = _trajectories(phi, "core_states")
    states = [_milestone(t.astype(np.float64), cores) for t in trajectories]
    return states[0] if single else states


def populations(states, n_states: int = 2) -> np.ndarray:
    """Fraction of the assigned frames (state >= 0) in each state, pooled over trajectories."""
    s = np.concatenate(_states(states, n_states, "populations"))
    s = s[s >= 0]
    return np.bincount(s, minlength=n_states) / s.size if s.size else np.full(n_states, np.nan)


def _assigned(states, n_states: int, name: str) -> list[np.ndarray]:
    return [s[s >= 0] for s in _states(states, n_states, name)]


def transition_counts(states, n_states: int = 2) -> np.ndarray:
    """Counts (n_states, n_states) of changes i -> j of the state between consecutive assigned frames."""
    counts = np.zeros((n_states, n_states), dtype=np.int64)
    for a in _assigned(states, n_states, "transition_counts"):
        change = a[1:] != a[:-1]
        np.add.at(counts, (a[:-1][change], a[1:][change]), 1)
    return counts


def rates_per_ps(states, interval_ps: float, n_states: int = 2) -> np.ndarray:
    """Rate constants k_ij (1/ps) = transitions i -> j / time spent in i, where the time in i counts
    the frame intervals (t, t + 1) that start in i; a row never visited is NaN."""
    interval_ps = estimators._frame_interval(interval_ps, "rates_per_ps")
    time = np.zeros(n_states)
    for a in _assigned(states, n_states, "rates_per_ps"):
        time += np.bincount(a[:-1], minlength=n_states) * interval_ps
    counts = transition_counts(states, n_states)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(time[:, None] > 0, counts / time[:, None], np.nan)


def mean_first_passage_ps(states, interval_ps: float, n_states: int = 2) -> np.ndarray:
    """Mean first-passage times (ps) i -> j: over every entry into i (each frame at which the state
    becomes i, the first assignment included) the time until the state first becomes j.  Passages
    unfinished at the end of their trajectory are left out; NaN on the diagonal and where none ended."""
    interval_ps = estimators._frame_interval(interval_ps, "mean_first_passage_ps")
    total, count = np.zeros((n_states, n_states)), np.zeros((n_states, n_states))
    for s in _states(states, n_states, "mean_first_passage_ps"):
        n = s.size
        index = np.arange(n)
        entry = (s >= 0) & np.concatenate([[True], s[1:] != s[:-1]])[:n]
        for j in range(n_states):
            next_j = np.minimum.accumulate(np.where(s == j, index, n)[::-1])[::-1]
            for i in range(n_states):
                if i != j:
                    start = index[entry & (s == i)]
                    end = next_j[start]
                    done = end < n
                    total[i, j] += np.sum(end[done] - start[done])
                    count[i, j] += np.sum(done)
    with np.errstate(invalid="ignore"):
        mfpt = np.where(count > 0, total / count * interval_ps, np.nan)
    np.fill_diagonal(mfpt, np.nan)
    return mfpt


def grid_states(phi, psi, n: int = 6):
    """Cell index i * n + j of (phi, psi) on an n x n grid of the periodic [-pi, pi)² (i from phi,
    j from psi); -1 where an angle is not finite.  Lists of trajectories give a list."""
    phis, single = _trajectories(phi, "grid_states")
    psis, _ = _trajectories(psi, "grid_states")
    if len(phis) != len(psis) or any(a.shape != b.shape for a, b in zip(phis, psis)):
        raise ValueError("grid_states: phi and psi trajectories differ in number or length")

    def cell(a):
        a = np.where(np.isfinite(a), a, 0.0)
        return np.minimum((np.mod(a + np.pi, 2 * np.pi) / (2 * np.pi) * n).astype(np.int64), n - 1)

    out = [np.where(np.isfinite(a) & np.isfinite(b), cell(a) * n + cell(b), -1)
           for a, b in ((p.astype(np.float64), q.astype(np.float64)) for p, q in zip(phis, psis))]
    return out[0] if single else out


def _largest_connected_set(counts: np.ndarray) -> np.ndarray:
    """Indices of the largest strongly connected set of the count graph (ties: most counts)."""
    n = counts.shape[0]
    reach = (counts > 0) | np.eye(n, dtype=bool)
    while True:  # transitive closure by repeated squaring
        closure = (reach.astype(np.float64) @ reach.astype(np.float64)) > 0
        if np.array_equal(closure, reach):
            break
        reach = closure
    mutual = reach & reach.T
    best, best_key = np.arange(0), (-1, -1.0)
    for i in range(n):
        members = np.flatnonzero(mutual[i])
        key = (members.size, float(counts[np.ix_(members, members)].sum()))
        if key > best_key:
            best, best_key = members, key
    return best


def implied_timescales_ps(dtrajs, lag_frames: int, interval_ps: float, n_timescales: int = 3) -> np.ndarray:
    """Implied timescales (ps), descending, of a Markov model of discrete trajectories.

    Transition counts at ``lag_frames`` (sliding window, pooled, unassigned -1 frames skipped) on the
    largest strongly connected set, symmetrised (C + C^T, the simple reversible estimate) and
    row-normalised; t_i = -lag * interval / ln|lambda_i| for the largest non-unit eigenvalues.
    NaN where fewer than ``n_timescales`` exist.
    """
    interval_ps = estimators._frame_interval(interval_ps, "implied_timescales_ps")
    lag = int(lag_frames)
    if lag < 1:
        raise ValueError(f"implied_timescales_ps: lag_frames must be >= 1, got {lag_frames}")
    trajectories, _ = _trajectories(dtrajs, "implied_timescales_ps")
    trajectories = [t.astype(np.int64) for t in trajectories]
    out = np.full(int(n_timescales), np.nan)
    n = max((int(t.max()) + 1 for t in trajectories if t.size), default=0)
    counts = np.zeros((n, n))
    for t in trajectories:
        a, b = t[:-lag], t[lag:]
        keep = (a >= 0) & (b >= 0)
        counts += np.bincount(a[keep] * n + b[keep], minlength=n * n).reshape(n, n)
    if n < 2 or counts.sum() == 0:
        return out
    members = _largest_connected_set(counts)
    if members.size < 2:
        return out
    symmetric = counts[np.ix_(members, members)]
    symmetric = symmetric + symmetric.T
    degree = symmetric.sum(1)
    # D^-1 S is similar to the symmetric D^-1/2 S D^-1/2: real eigenvalues, computed stably
    eigenvalues = np.sort(np.linalg.eigvalsh(symmetric / np.sqrt(np.outer(degree, degree))))[::-1][1:]
    magnitude = np.sort(np.abs(eigenvalues))[::-1][: out.size]
    with np.errstate(divide="ignore"):
        times = np.where(magnitude < 1, -lag * interval_ps / np.log(magnitude), np.inf)
    out[: times.size] = times
    return out


def bootstrap_trajectories(trajectories: Sequence, statistic: Callable[[list], float], n_boot: int = 200,
                           seed: int = 0) -> dict:
    """{"value", "low", "high", "n"}: ``statistic(list of trajectories)`` and its 95 % percentile
    interval over resamples of whole trajectories with replacement (array statistics elementwise)."""
    trajectories = list(trajectories)
    if len(trajectories) < 2:
        raise ValueError(f"bootstrap_trajectories: needs at least 2 trajectories, got {len(trajectories)}")
    return estimators.bootstrap_items(lambda idx: statistic([trajectories[i] for i in idx]),
                                      len(trajectories), n_boot=n_boot, seed=seed, level=0.95)
