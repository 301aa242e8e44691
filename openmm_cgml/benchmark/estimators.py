"""Statistical estimators of the fidelity benchmark: pooled ACFs and relaxation times, bootstrap and
block standard errors, an equilibration-drift check, agreement scores, ratio and close-contact summaries.

Units: time in ps, distances in nm.  Conventions are those of ``openmm_cgml.analysis``: the ACF is the
unbiased estimate (lag-k product sum divided by the number of lag-k pairs) normalised to 1 at lag 0;
only lags up to ``analysis.trusted_lags`` of the shortest replica are trusted; a relaxation time the
data cannot resolve is NaN.  Replicas are independent runs: they are pooled, never joined end to
start, and they (not frames, which are correlated) are what the bootstrap resamples.
"""
from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np

from .. import analysis

NAN = float("nan")
_NO_TIMES = {"efold": NAN, "integral": NAN, "fit": NAN}


def _replicas(series_list, name: str, min_size: int = 2) -> list[np.ndarray]:
    replicas = [np.asarray(s, dtype=np.float64) for s in series_list]
    if not replicas:
        raise ValueError(f"{name}: no replicas given")
    for r in replicas:
        if r.ndim != 1 or r.size < min_size:
            raise ValueError(f"{name}: each replica must be a 1-d series of at least {min_size} values, "
                             f"got shape {r.shape} (pass [series] for a single run)")
    return replicas


def _frame_interval(interval_ps: float, name: str) -> float:
    if not float(interval_ps) > 0:
        raise ValueError(f"{name}: interval_ps must be positive, got {interval_ps}")
    return float(interval_ps)


def pooled_autocorrelation(series_list: Sequence, max_lag: int | None = None) -> np.ndarray:
    """Normalised ACF of one observable over independent replicas (1-d series, lengths may differ).

    The pooled mean over all replicas is removed; lag-k products are summed over every replica and
    divided by the number of lag-k pairs; the result is 1 at lag 0.  Lags 0..max_lag (in frames;
    default ``analysis.trusted_lags`` of the shortest replica).  No variance at all gives NaN.  For a
    single replica this is ``analysis.autocorrelation``.
    """
    replicas = _replicas(series_list, "pooled_autocorrelation")
    lengths = [r.size for r in replicas]
    if max_lag is None:
        max_lag = analysis.trusted_lags(min(lengths))
    elif int(max_lag) < 0:
        raise ValueError(f"pooled_autocorrelation: max_lag must be >= 0, got {max_lag}")
    max_lag = min(int(max_lag), max(lengths) - 1)
    mean = np.concatenate(replicas).mean()
    sums, pairs = np.zeros(max_lag + 1), np.zeros(max_lag + 1)
    for n in sorted(set(lengths)):  # one batched FFT per replica length
        block = np.stack([r for r in replicas if r.size == n]) - mean
        k = min(max_lag, n - 1) + 1
        size = 1 << (2 * n - 1).bit_length()
        f = np.fft.rfft(block, size, axis=1)
        sums[:k] += np.fft.irfft(f * np.conj(f), size, axis=1)[:, :k].sum(0)
        pairs[:k] += block.shape[0] * (n - np.arange(k))
    raw = sums / pairs
    if not raw[0] > 0:
        return np.full(max_lag + 1, np.nan)
    return raw / raw[0]


def relaxation_times(series_list: Sequence, interval_ps: float) -> dict[str, float]:
    """The three relaxation times (ps) of ``analysis.relaxation_time``, from the pooled ACF of replicas.

    Keys "efold", "integral", "fit".  The trusted lags are those of the shortest replica; all NaN when
    that replica is shorter than ``analysis.MIN_FRAMES``, a value is not finite, or nothing varies.
    Replicas whose means differ (unmixed sampling) lengthen the pooled ACF, as they should.
    """
    replicas = _replicas(series_list, "relaxation_times", min_size=1)
    _frame_interval(interval_ps, "relaxation_times")
    shortest = min(r.size for r in replicas)
    values = np.concatenate(replicas)
    if shortest < analysis.MIN_FRAMES or not np.all(np.isfinite(values)) or np.ptp(values) == 0:
        return dict(_NO_TIMES)
    return analysis.times_from_acf(pooled_autocorrelation(replicas, analysis.trusted_lags(shortest)), interval_ps)


def integral_time_bound(acf, interval_ps: float) -> tuple[float, bool]:
    """The integral relaxation time (ps) of a normalised ACF, or a lower bound where it is censored.

    Returns (τ, False) where the ACF reaches zero within the lags given (``analysis.times_from_acf``'s
    "integral"); (the trapezoid integral over every lag given, True) where it stays positive over all
    of them: the run is too short to see the crossing, and the integral up to it can only be larger;
    (NaN, False) where the ACF is unmeasured.  Pass only the trusted lags, as ``relaxation_times`` does.
    """
    _frame_interval(interval_ps, "integral_time_bound")
    acf = np.asarray([np.nan if a is None else a for a in acf], dtype=np.float64)
    if acf.size < 2 or not np.all(np.isfinite(acf)):
        return NAN, False
    tau = analysis.times_from_acf(acf, interval_ps)["integral"]
    if np.isfinite(tau):
        return tau, False
    return float(np.trapezoid(acf) * interval_ps), True


def censored_ratio_summary(x, x_censored, truth, truth_censored, band: tuple[float, float] = (0.67, 1.5)) -> dict:
    """Bounds on ``ratio_summary``'s median and share in ``band`` of per-item ratios x / truth where
    some values are only lower bounds (``*_censored`` true: e.g. a τ whose ACF has not reached zero).

    Each item's ratio lies in [lo, hi]: a censored x leaves hi unbounded (inf), a censored truth leaves
    lo at 0, both censored say nothing.  The median over all items lies between the medians of the lo
    and of the hi values ("median_low", "median_high"); the share in band lies between the share of
    items whose whole [lo, hi] is inside it ("fraction_in_low") and the share whose [lo, hi] meets it
    ("fraction_in_high").  Items whose x or truth is NaN (unmeasured) are left out; "n" counts the
    rest, "censored" those with a censored side.  Without censored items the bounds are
    ``ratio_summary``'s median and share."""
    x, truth = (np.ravel(np.asarray(v, dtype=np.float64)) for v in (x, truth))
    xc, tc = (np.ravel(np.asarray(v, dtype=bool)) for v in (x_censored, truth_censored))
    if not x.shape == truth.shape == xc.shape == tc.shape:
        raise ValueError(f"censored_ratio_summary: x, truth and their censoring flags must have one length, got "
                         f"{x.shape}, {truth.shape}, {xc.shape} and {tc.shape}")
    low, high = map(float, band)
    if not low <= high:
        raise ValueError(f"censored_ratio_summary: band must be (low, high) with low <= high, got {band}")
    keep = np.isfinite(x) & np.isfinite(truth) & (truth > 0)
    x, truth, xc, tc = x[keep], truth[keep], xc[keep], tc[keep]
    if x.size == 0:
        return {"median_low": NAN, "median_high": NAN, "fraction_in_low": NAN, "fraction_in_high": NAN,
                "n": 0, "censored": 0}
    lo = np.where(tc, 0.0, x / truth)
    hi = np.where(xc, np.inf, x / truth)
    return {"median_low": float(np.median(lo)), "median_high": float(np.median(hi)),
            "fraction_in_low": float(np.mean((lo >= low) & (hi <= high))),
            "fraction_in_high": float(np.mean((hi >= low) & (lo <= high))),
            "n": int(x.size), "censored": int(np.sum(xc | tc))}


def decorrelation_at(acf: Sequence, interval_ps: float, lag_ps: float) -> float:
    """1 − a normalised ACF (sampled every ``interval_ps``) at ``lag_ps``: how much of the fluctuation
    one lag forgets.  Unlike a relaxation time it needs no zero crossing of the ACF, so it is measured
    for slow series too.  NaN where the lag is not a whole number of frames, lies beyond the ACF, or
    the ACF is unmeasured there (None or NaN)."""
    _frame_interval(interval_ps, "decorrelation_at")
    k = int(round(lag_ps / interval_ps))
    if k < 1 or abs(k * interval_ps - lag_ps) > 1e-6 * lag_ps or k >= len(acf) or acf[k] is None:
        return float("nan")
    return 1.0 - float(acf[k])


def _resample(n_items: int, n_boot: int, seed: int, name: str) -> np.ndarray:
    if int(n_boot) < 2:
        raise ValueError(f"{name}: n_boot must be at least 2, got {n_boot}")
    return np.random.default_rng(seed).integers(0, n_items, size=(int(n_boot), n_items))


def replica_bootstrap(series_list: Sequence, statistic: Callable[[list], float], n_boot: int = 200,
                      seed: int = 0) -> tuple[float, float]:
    """(estimate, standard error) of ``statistic(list of replicas)`` by resampling whole replicas.

    The estimate is the statistic of the replicas as given; the standard error is the standard
    deviation (ddof=1) of its finite values over ``n_boot`` resamples with replacement (NaN if fewer
    than two are finite).  Replicas may be anything ``statistic`` takes (series, trajectories).
    """
    replicas = list(series_list)
    if len(replicas) < 2:
        raise ValueError(f"replica_bootstrap: needs at least 2 replicas to resample, got {len(replicas)}")
    draws = _resample(len(replicas), n_boot, seed, "replica_bootstrap")
    values = np.array([float(statistic([replicas[i] for i in idx])) for idx in draws])
    finite = values[np.isfinite(values)]
    se = float(np.std(finite, ddof=1)) if finite.size >= 2 else NAN
    return float(statistic(replicas)), se


def block_standard_error(series, n_blocks: int = 10) -> float:
    """Standard error of the mean of a correlated 1-d series from ``n_blocks`` block means.

    SE = std(block means, ddof=1) / sqrt(n_blocks); blocks are equal and the leading remainder of
    the series is dropped.  Valid when a block is much longer (~10x) than the relaxation time.
    NaN if a value is not finite.
    """
    y, n_blocks = np.asarray(series, dtype=np.float64), int(n_blocks)
    if y.ndim != 1 or not 2 <= n_blocks <= y.size:
        raise ValueError(f"block_standard_error: needs a 1-d series of at least n_blocks >= 2 values, "
                         f"got shape {y.shape} and n_blocks={n_blocks}")
    if not np.all(np.isfinite(y)):
        return NAN
    length = y.size // n_blocks
    means = y[y.size - n_blocks * length:].reshape(n_blocks, length).mean(1)
    return float(np.std(means, ddof=1) / np.sqrt(n_blocks))


def halves_drift(series, n_blocks: int = 10) -> dict[str, float]:
    """Means of the first and second half of a run and z = (second - first) / combined block SE.

    The combined SE is sqrt(se1² + se2²), each half's from ``n_blocks`` blocks; the middle frame of an
    odd-length run is dropped.  |z| of a few or more says the run has not equilibrated: cut more.  A
    drift within a half also inflates that half's SE, so z is conservative.
    """
    y = np.asarray(series, dtype=np.float64)
    if y.ndim != 1 or y.size < 2 * int(n_blocks):
        raise ValueError(f"halves_drift: needs a 1-d series of at least 2 * n_blocks values, got shape {y.shape}")
    half = y.size // 2
    first, second = y[:half], y[y.size - half:]
    se = np.hypot(block_standard_error(first, n_blocks), block_standard_error(second, n_blocks))
    difference = second.mean() - first.mean()
    with np.errstate(divide="ignore", invalid="ignore"):  # no noise: +-inf, or 0 without a difference
        z = difference / se if se > 0 or difference != 0 else 0.0
    return {"first": float(first.mean()), "second": float(second.mean()), "z": float(z)}


def _finite_pairs(prediction, truth, name: str) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(prediction, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if p.shape != t.shape:
        raise ValueError(f"{name}: predictions shaped {p.shape} for true values shaped {t.shape}")
    keep = np.isfinite(p) & np.isfinite(t)  # boolean indexing flattens
    return p[keep], t[keep]


def pearson_r2(prediction, truth) -> float:
    """Squared Pearson correlation of the finite (prediction, truth) pairs; NaN for fewer than 3 or
    when either side has no variance.  Blind to bias and scale: see ``determination_r2``."""
    p, t = _finite_pairs(prediction, truth, "pearson_r2")
    if p.size < 3:
        return NAN
    dp, dt = p - p.mean(), t - t.mean()
    denominator = np.sqrt(np.sum(dp * dp) * np.sum(dt * dt))
    return float((np.sum(dp * dt) / denominator) ** 2) if denominator > 0 else NAN


def determination_r2(prediction, truth) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot, SS_tot about the truth's mean, over the finite
    pairs: 1 for a perfect prediction, below 1 (possibly negative) for a biased one; NaN for fewer
    than 3 pairs or a constant truth."""
    p, t = _finite_pairs(prediction, truth, "determination_r2")
    if p.size < 3:
        return NAN
    total = np.sum((t - t.mean()) ** 2)
    return float(1.0 - np.sum((t - p) ** 2) / total) if total > 0 else NAN


def log_slope(truth, prediction) -> float:
    """Least-squares slope of log(prediction) on log(truth) over the finite positive pairs (NaN below
    3 pairs): 1 when a model carries the items' differences over (whatever its overall bias), below 1
    when it pulls every item towards the average one.  Noise in ``truth`` also pulls it below 1, so
    read it beside the ceiling's."""
    truth, prediction = np.asarray(truth, dtype=np.float64), np.asarray(prediction, dtype=np.float64)
    keep = np.isfinite(truth) & np.isfinite(prediction) & (truth > 0) & (prediction > 0)
    if keep.sum() < 3 or np.ptp(np.log(truth[keep])) == 0:
        return float("nan")
    return float(np.polyfit(np.log(truth[keep]), np.log(prediction[keep]), 1)[0])


def _interval(values: np.ndarray, level: float):
    values = np.where(np.isfinite(values), values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column gives NaN bounds
        low, high = np.nanpercentile(values, [50 * (1 - level), 50 * (1 + level)], axis=0)
    return (float(low), float(high)) if np.ndim(low) == 0 else (low, high)


def keyed_intervals(value: dict, draws: Sequence[dict], level: float = 0.95) -> dict:
    """{key: {"value", "low", "high"}}: each figure of ``value`` (a dict of numbers) with the central
    ``level`` interval of its finite values across ``draws`` (dicts with the same keys, one per
    bootstrap resample); NaN bounds where no draw is finite."""
    out = {}
    for key, v in value.items():
        low, high = _interval(np.array([draw[key] for draw in draws], dtype=np.float64), level)
        out[key] = {"value": float(v), "low": low, "high": high}
    return out


def bootstrap_items(statistic: Callable[[np.ndarray], float], n_items: int, n_boot: int = 1000,
                    seed: int = 0, level: float = 0.95) -> dict:
    """Percentile bootstrap over items (e.g. sequences): ``statistic(indices)`` on resampled indices.

    Returns {"value": statistic(arange(n_items)), "low", "high": the central ``level`` interval of the
    finite bootstrap values, "n": n_items}.  An array-valued statistic gets elementwise bounds.
    """
    n_items = int(n_items)
    if n_items < 1 or not 0 < level < 1:
        raise ValueError(f"bootstrap_items: needs n_items >= 1 and a level in (0, 1), got {n_items} and {level}")
    draws = _resample(n_items, n_boot, seed, "bootstrap_items")
    values = np.array([np.asarray(statistic(idx), dtype=np.float64) for idx in draws])
    low, high = _interval(values, level)
    value = np.asarray(statistic(np.arange(n_items)), dtype=np.float64)
    return {"value": float(value) if value.ndim == 0 else value, "low": low, "high": high, "n": n_items}


def ratio_summary(ratios, band: tuple[float, float] = (0.67, 1.5)) -> dict[str, float]:
    """Median, 10th and 90th percentiles of the finite ratios (e.g. CG / MD relaxation time), the
    fraction of them inside ``band`` (inclusive) and their number "n"."""
    r = np.ravel(np.asarray(ratios, dtype=np.float64))
    r = r[np.isfinite(r)]
    low, high = map(float, band)
    if not low <= high:
        raise ValueError(f"ratio_summary: band must be (low, high) with low <= high, got {band}")
    if r.size == 0:
        return {"median": NAN, "p10": NAN, "p90": NAN, "fraction_in": NAN, "n": 0}
    p10, median, p90 = np.percentile(r, [10, 50, 90])
    return {"median": float(median), "p10": float(p10), "p90": float(p90),
            "fraction_in": float(np.mean((r >= low) & (r <= high))), "n": int(r.size)}


def close_contact_fractions(cg_distances, md_distances, quantiles: Sequence[float] = (0.001, 0.01)) -> dict:
    """For each quantile q: the MD q-quantile distance d_q (nm) and the fraction of CG distances below it.

    Distances are non-bonded pair distances pooled over frames (any shape, flattened; non-finite
    values dropped).  A CG model with MD's short-range structure gives fractions near q ("expected");
    far more means overlapping beads.  Keys are ``f"{q:g}"``, e.g. "0.001".
    """
    cg, md = (np.ravel(np.asarray(d, dtype=np.float64)) for d in (cg_distances, md_distances))
    cg, md = cg[np.isfinite(cg)], md[np.isfinite(md)]
    if cg.size == 0 or md.size == 0:
        raise ValueError(f"close_contact_fractions: no finite distances (CG {cg.size}, MD {md.size})")
    out = {}
    for q in quantiles:
        if not 0 < q < 1:
            raise ValueError(f"close_contact_fractions: quantiles must lie in (0, 1), got {q}")
        threshold = float(np.quantile(md, q))
        out[f"{q:g}"] = {"threshold_nm": threshold, "cg_fraction": float(np.mean(cg < threshold)),
                         "expected": float(q)}
    return out


def msd_at_lags(x, interval_ps: float, lags_ps) -> np.ndarray:
    """Bead MSD (nm², ``analysis.msd``, centre of mass not removed) of ``x`` (n_frames, n, 3) in nm at
    the given lags (ps), each read at the nearest frame lag; NaN beyond the trusted N // 4 frames and
    for lags shorter than half a frame."""
    x = np.asarray(x, dtype=np.float64)
    interval_ps = _frame_interval(interval_ps, "msd_at_lags")
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"msd_at_lags: positions must be shaped (n_frames, n, 3) in nm, got {x.shape}")
    lags = np.asarray(lags_ps, dtype=np.float64)
    if not np.all(np.isfinite(lags)) or np.any(lags < 0):
        raise ValueError("msd_at_lags: lags must be finite and >= 0 ps")
    frames, trusted = np.rint(lags / interval_ps), analysis.trusted_lags(x.shape[0])
    _, values = analysis.msd(x, interval_ps, max_lag=trusted)
    # A lag that rounds to no frame at all (shorter than half the frame interval) has no estimate.
    out, ok = np.full(lags.shape, np.nan), (frames <= trusted) & ((frames >= 1) | (lags == 0))
    out[ok] = values[frames[ok].astype(np.int64)]
    return out


def split_halves(items: Sequence) -> tuple[list, list]:
    """Deterministic split of an even number of replicas: items [0, 2, 4, ...] and [1, 3, 5, ...]."""
    items = list(items)
    if len(items) == 0 or len(items) % 2:
        raise ValueError(f"split_halves: needs a non-zero even number of replicas, got {len(items)}")
    return items[0::2], items[1::2]
