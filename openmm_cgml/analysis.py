"""Metrics on bead (or atom) trajectories: numpy arrays shaped (n_frames, n, 3) in nm.

Units are OpenMM's: positions in nm, masses in amu, time in ps, angles in radians.  Every function
takes plain arrays, so the same metrics serve CG rollouts, classical MD and stored trajectories.

Conventions chosen here (and kept everywhere):

- Rg is mass-weighted, about the frame's own centre of mass.
- The autocorrelation function is the unbiased FFT estimate (mean removed, lag-k sum divided by
  N - k), normalised to 1 at lag 0.  The relaxation time is by default the lag at which the ACF
  first falls to 1/e (``method="efold"``, linearly interpolated; exact for an exponential, and robust
  to the noisy tail of runs only ten or twenty relaxation times long); ``method="integral"``
  integrates the ACF up to its first zero crossing; ``method="fit"`` fits exp(-t/tau) to the ACF
  where it is above exp(-2), before that crossing.  Rule for short or noisy series: only lags up to
  N // 4 are trusted; a series shorter than ``MIN_FRAMES``, without variance, or whose ACF does not
  reach 1/e (efold) or zero (integral, fit) within N // 4 lags cannot resolve its relaxation time: NaN.
- MSD is per particle, averaged over particles and time origins; by default the whole-molecule
  centre of mass is *not* removed (``remove_com=True`` removes it frame by frame).
- Jensen–Shannon divergences are in bits (base-2 logarithm), so they lie in [0, 1]: 0 for identical
  distributions, 1 for distributions with disjoint support.
- Collisions are pairs of particles that are not directly bonded and closer than a threshold.
- Rouse modes are the orthonormal cosine transform along a linear chain (``rouse_matrix``), beads
  in backbone order (``chain_order``); mode 0 is sqrt(N) times the unweighted centre.
"""
from __future__ import annotations

import numpy as np

MIN_FRAMES = 16
FIT_FLOOR = float(np.exp(-2.0))
EFOLD = float(np.exp(-1.0))


def _frames(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"positions must be shaped (n_frames, n, 3) in nm, got {x.shape}")
    return x


def radius_of_gyration(x, masses=None) -> np.ndarray:
    """Mass-weighted radius of gyration (nm) of each frame of ``x`` (n_frames, n, 3), masses (n,) in amu."""
    x = _frames(x)
    m = np.ones(x.shape[1]) if masses is None else np.asarray(masses, dtype=np.float64)
    if m.shape != (x.shape[1],):
        raise ValueError(f"radius_of_gyration: {m.size} masses for {x.shape[1]} particles")
    w = m / m.sum()
    com = np.einsum("i,fij->fj", w, x)
    return np.sqrt(np.einsum("i,fi->f", w, ((x - com[:, None]) ** 2).sum(-1)))


def trusted_lags(n_frames: int) -> int:
    """The longest ACF lag (in frames) the estimators here rely on for a series of ``n_frames``."""
    return n_frames // 4


def autocorrelation(series, max_lag: int | None = None) -> np.ndarray:
    """Normalised autocorrelation of a 1-d series (FFT, mean removed, unbiased 1/(N-k) per lag).

    Returns lags 0..max_lag (default N - 1); acf[0] == 1.  A constant series gives NaN.
    """
    y = np.asarray(series, dtype=np.float64)
    if y.ndim != 1 or y.size < 2:
        raise ValueError(f"autocorrelation needs a 1-d series of at least 2 values, got shape {y.shape}")
    n = y.size
    max_lag = n - 1 if max_lag is None else min(int(max_lag), n - 1)
    y = y - y.mean()
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(y, size)
    raw = np.fft.irfft(f * np.conj(f), size)[: max_lag + 1] / (n - np.arange(max_lag + 1))
    if raw[0] <= 0:
        return np.full(max_lag + 1, np.nan)
    return raw / raw[0]


def times_from_acf(acf, interval_ps: float) -> dict[str, float]:
    """Relaxation times (ps) from a normalised ACF sampled every ``interval_ps`` (lags 0, 1, ...).

    "efold": the lag where the ACF first reaches 1/e (linear interpolation).  "integral": trapezoid
    integral of the ACF up to its first zero crossing (interpolated).  "fit": least squares of
    ln ACF = -t/tau over the lags before that crossing where the ACF exceeds exp(-2).  NaN where the
    ACF does not reach the level within the lags given: pass only the trusted lags.
    """
    acf = np.asarray(acf, dtype=np.float64)
    if not float(interval_ps) > 0:
        raise ValueError(f"times_from_acf: interval_ps must be positive, got {interval_ps}")
    if acf.ndim != 1 or acf.size == 0:
        raise ValueError(f"times_from_acf: the ACF must be a non-empty 1-d array, got shape {acf.shape}")
    times = {"efold": float("nan"), "integral": float("nan"), "fit": float("nan")}
    if not np.isfinite(acf[0]):
        return times
    if acf[0] != 1.0:
        raise ValueError(f"times_from_acf: the ACF must be normalised to 1 at lag 0, got {acf[0]}")
    below = np.flatnonzero(acf <= EFOLD)
    if below.size:
        c = int(below[0])
        a0, a1 = acf[c - 1], acf[c]
        times["efold"] = float((c - 1 + (a0 - EFOLD) / (a0 - a1)) * interval_ps)
    below = np.flatnonzero(acf <= 0.0)
    if below.size == 0:
        return times
    c = int(below[0])
    a0, a1 = acf[c - 1], acf[c]
    crossing = c - 1 + a0 / (a0 - a1)  # lag where the interpolated ACF reaches zero
    area = np.trapezoid(acf[:c]) + 0.5 * a0 * (crossing - (c - 1))
    times["integral"] = float(area * interval_ps)
    t, a = np.arange(1, c), acf[1:c]
    t, a = t[a > FIT_FLOOR], a[a > FIT_FLOOR]
    if t.size == 0:  # the ACF drops below exp(-2) within one frame: tau is under half a frame
        times["fit"] = float(-interval_ps / np.log(acf[1])) if c > 1 else float(crossing * interval_ps)
    else:
        times["fit"] = float(interval_ps / (-np.sum(t * np.log(a)) / np.sum(t * t)))
    return times


def relaxation_time(series, frame_interval_ps: float, method: str = "efold") -> float:
    """Relaxation time (ps) of a series sampled every ``frame_interval_ps`` (see the module rules and
    ``times_from_acf``).  NaN when the series cannot resolve it."""
    if method not in ("efold", "integral", "fit"):
        raise ValueError(f"relaxation_time: method must be 'efold', 'integral' or 'fit', got {method!r}")
    y = np.asarray(series, dtype=np.float64)
    if y.size < MIN_FRAMES or not np.all(np.isfinite(y)) or np.ptp(y) == 0:
        return float("nan")
    return times_from_acf(autocorrelation(y, trusted_lags(y.size)), frame_interval_ps)[method]


def msd(x, frame_interval_ps: float = 1.0, max_lag: int | None = None, remove_com: bool = False,
        masses=None) -> tuple[np.ndarray, np.ndarray]:
    """Mean squared displacement: lag times (ps) and MSD (nm²), lags 0..max_lag (default N // 2).

    Per particle, averaged over all time origins (FFT algorithm, exact) and over particles.  With
    ``remove_com`` the mass-weighted centre of mass of each frame is subtracted first.
    """
    x = _frames(x)
    n = x.shape[0]
    max_lag = n // 2 if max_lag is None else min(int(max_lag), n - 1)
    if remove_com:
        m = np.ones(x.shape[1]) if masses is None else np.asarray(masses, dtype=np.float64)
        x = x - np.einsum("i,fij->fj", m / m.sum(), x)[:, None]
    lags = np.arange(max_lag + 1)
    count = n - lags
    squares = (x ** 2).sum(-1)  # (n, particles)
    cumulative = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(squares, 0)])
    # sum over origins k of |x(k+m)|² + |x(k)|²
    s1 = (cumulative[n] - cumulative[lags]) + cumulative[n - lags]
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(x, size, axis=0)
    cross = np.fft.irfft(f * np.conj(f), size, axis=0)[: max_lag + 1].sum(-1)  # sum_k x(k)·x(k+m)
    per_particle = (s1 - 2 * cross) / count[:, None]
    return lags * frame_interval_ps, np.clip(per_particle.mean(1), 0.0, None)


def all_pairs(n: int) -> np.ndarray:
    """Every pair (i < j) of n particles, shaped (n_pairs, 2)."""
    i, j = np.triu_indices(n, 1)
    return np.stack([i, j], 1)


def nonbonded_pairs(n: int, bonds) -> np.ndarray:
    """Pairs (i < j) of n particles that are not directly bonded, shaped (n_pairs, 2)."""
    bonded = {tuple(sorted(map(int, b))) for b in bonds}
    return np.array([p for p in all_pairs(n).tolist() if tuple(p) not in bonded], dtype=np.int64).reshape(-1, 2)


def pair_distances(x, pairs=None) -> np.ndarray:
    """Distances (nm) of the given pairs (default all i < j) in each frame: (n_frames, n_pairs)."""
    x = _frames(x)
    pairs = all_pairs(x.shape[1]) if pairs is None else np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return np.linalg.norm(x[:, pairs[:, 1]] - x[:, pairs[:, 0]], axis=-1)


def bond_lengths(x, bonds) -> np.ndarray:
    """Length (nm) of each bond (i, j) in each frame: (n_frames, n_bonds)."""
    return pair_distances(x, bonds)


def angle_triples(bonds) -> np.ndarray:
    """Triples (i, j, k), i < k, of particles where j is bonded to both i and k: (n_angles, 3)."""
    neighbours: dict[int, set[int]] = {}
    for a, b in bonds:
        neighbours.setdefault(int(a), set()).add(int(b))
        neighbours.setdefault(int(b), set()).add(int(a))
    triples = [(i, j, k) for j in sorted(neighbours) for i in sorted(neighbours[j])
               for k in sorted(neighbours[j]) if i < k]
    return np.array(triples, dtype=np.int64).reshape(-1, 3)


def bond_angles(x, triples) -> np.ndarray:
    """Angle (radians) at j of each triple (i, j, k) in each frame: (n_frames, n_angles)."""
    x = _frames(x)
    t = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
    u = x[:, t[:, 0]] - x[:, t[:, 1]]
    v = x[:, t[:, 2]] - x[:, t[:, 1]]
    cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.arccos(np.clip(cos, -1.0, 1.0))


def shared_bins(*samples, bins: int = 50) -> np.ndarray:
    """Edges of ``bins`` equal bins spanning the finite values of all samples together."""
    values = np.concatenate([np.ravel(s) for s in samples])
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("shared_bins: no finite values")
    low, high = float(values.min()), float(values.max())
    if high <= low:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1)


def histogram(sample, edges) -> np.ndarray:
    """Probabilities (summing to 1) of the finite values of ``sample`` in the bins ``edges``."""
    values = np.ravel(sample)
    counts, _ = np.histogram(values[np.isfinite(values)], edges)
    total = counts.sum()
    return counts / total if total else np.full(counts.shape, np.nan)


def js_divergence(p, q) -> float:
    """Jensen–Shannon divergence (bits, in [0, 1]) of two histograms on the same bins."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"js_divergence: histograms on different bins ({p.shape} vs {q.shape})")
    if not (p.sum() > 0 and q.sum() > 0):
        return float("nan")
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a):
        nonzero = a > 0
        return np.sum(a[nonzero] * np.log2(a[nonzero] / m[nonzero]))

    return float(np.clip(0.5 * kl(p) + 0.5 * kl(q), 0.0, 1.0))


def distribution_js(a, b, bins: int = 50) -> float:
    """JS divergence (bits) between the pooled values of two samples, on shared bins."""
    edges = shared_bins(a, b, bins=bins)
    return js_divergence(histogram(a, edges), histogram(b, edges))


def pairwise_js(da, db, bins: int = 50) -> float:
    """Mean over pairs of the JS divergence (bits) of each pair's distance distribution.

    ``da`` and ``db`` are (n_frames, n_pairs) from ``pair_distances`` on the same pairs; frame counts
    may differ.
    """
    da, db = np.asarray(da), np.asarray(db)
    if da.ndim != 2 or db.ndim != 2 or da.shape[1] != db.shape[1]:
        raise ValueError(f"pairwise_js: distance arrays {da.shape} and {db.shape} do not cover the same pairs")
    return float(np.mean([distribution_js(da[:, k], db[:, k], bins) for k in range(da.shape[1])]))


def collision_threshold(reference, bonds, percentile: float = 0.0) -> float:
    """Threshold (nm) from a reference trajectory: the given percentile (0 = the minimum) of its
    distances between particles that are not directly bonded."""
    x = _frames(reference)
    pairs = nonbonded_pairs(x.shape[1], bonds)
    if len(pairs) == 0:
        raise ValueError("collision_threshold: every pair is bonded; no non-bonded distances to take a threshold from")
    return float(np.percentile(pair_distances(x, pairs), percentile))


def collisions(x, threshold_nm: float, bonds) -> np.ndarray:
    """Number of non-bonded pairs closer than ``threshold_nm`` in each frame: (n_frames,) int."""
    x = _frames(x)
    pairs = nonbonded_pairs(x.shape[1], bonds)
    if len(pairs) == 0:
        return np.zeros(x.shape[0], dtype=np.int64)
    counts = [(pair_distances(x[s:s + 256], pairs) < threshold_nm).sum(1) for s in range(0, x.shape[0], 256)]
    return np.concatenate(counts).astype(np.int64)


# ---- Rouse modes of a linear chain ------------------------------------------------------------------


def chain_order(n: int, bonds) -> np.ndarray:
    """The n particles of a linear chain in backbone order (from the end with the lower index), given
    its bonds (i, j); ValueError unless the bonds join all n particles into one unbranched chain."""
    neighbours: dict[int, list[int]] = {i: [] for i in range(n)}
    for a, b in np.asarray(bonds, dtype=np.int64).reshape(-1, 2).tolist():
        neighbours[a].append(b)
        neighbours[b].append(a)
    ends = [i for i in range(n) if len(neighbours[i]) == 1]
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    if len(ends) != 2 or any(len(v) > 2 for v in neighbours.values()):
        raise ValueError(f"chain_order: the {len(np.asarray(bonds).reshape(-1, 2))} bonds do not make one "
                         f"unbranched chain of {n} particles")
    order, previous = [ends[0]], -1
    while len(order) < n:
        following = [j for j in neighbours[order[-1]] if j != previous]
        if not following:
            raise ValueError(f"chain_order: the bonds do not join all {n} particles into one chain")
        previous = order[-1]
        order.append(following[0])
    return np.array(order, dtype=np.int64)


def rouse_matrix(n: int) -> np.ndarray:
    """The orthonormal Rouse transform Q (n, n) of a chain of n beads: X_p = Σ_n Q[p, n] x_n with
    Q[p, n] = sqrt(c_p / N) cos(p π (n + 1/2) / N), beads n = 0..N-1 in chain order, c_0 = 1, c_p = 2.
    Mode 0 is sqrt(N) times the centre (unweighted); mode N-1 alternates from bead to bead."""
    if n < 1:
        raise ValueError(f"rouse_matrix: needs at least one bead, got {n}")
    p, bead = np.arange(n)[:, None], np.arange(n)[None, :]
    c = np.where(p == 0, 1.0, 2.0)
    return np.sqrt(c / n) * np.cos(np.pi * p * (bead + 0.5) / n)


def rouse_modes(x, order=None) -> np.ndarray:
    """Rouse modes (..., n, 3) of positions or displacements ``x`` (..., n, 3), the beads taken in
    ``order`` (``chain_order``; default as given)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2 or x.shape[-1] != 3:
        raise ValueError(f"rouse_modes: positions must be shaped (..., n, 3), got {x.shape}")
    if order is not None:
        x = x[..., np.asarray(order, dtype=np.int64), :]
    return np.einsum("pn,...nk->...pk", rouse_matrix(x.shape[-2]), x)


def step_mean_squares(start, moved, order=None) -> dict[str, np.ndarray]:
    """Mean squared displacement (nm²) from ``start`` (..., n, 3) to ``moved`` (same shape, or with
    extra sample axes right after the leading ones: (W, S, n, 3) for starts (W, n, 3)), averaged over
    every leading and sample axis: per bead ("bead", (n,), in the input's bead numbering) and per
    Rouse mode ⟨|ΔX_p|²⟩ ("mode", (n,), p = 0..n-1; ``order``: the beads' chain order)."""
    start, moved = np.asarray(start, dtype=np.float64), np.asarray(moved, dtype=np.float64)
    extra = moved.ndim - start.ndim
    if extra < 0 or start.shape[-1] != 3 or moved.shape[:start.ndim - 2] != start.shape[:-2] \
            or moved.shape[-2:] != start.shape[-2:]:
        raise ValueError(f"step_mean_squares: moved {moved.shape} does not match start {start.shape}")
    d = moved - start.reshape(start.shape[:-2] + (1,) * extra + start.shape[-2:])
    d = d.reshape(-1, *d.shape[-2:])
    return {"bead": (d ** 2).sum(-1).mean(0), "mode": (rouse_modes(d, order) ** 2).sum(-1).mean(0)}
