"""Effective speed: the wall time a method needs to estimate an observable to a relative standard
error of 5 % from its own runs, and the classical-over-CG ratio of those times.

Simulated time per wall second rewards long steps whatever they sample; this counts information.
For one observable (a 1-d series per replica), the replicas are joined and cut into ``N_BLOCKS``
equal blocks; the squared standard error of the mean scales as 1 / simulated time, so the time
that reaches ``RELATIVE_SE`` is the simulated time at hand times (SE / (RELATIVE_SE · |mean|))²,
and its wall time follows from the method's simulated time per wall second.  Intervals: 95 %
percentile bootstrap over each side's block means (the ratio's draws pair independent draws).

A CG side can be fast to a precise answer that is wrong: every figure keeps the CG mean beside
MD's, and only a model that passes the fidelity figures may claim its ratio as a speed-up.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

RELATIVE_SE = 0.05
N_BLOCKS = 10


def block_means(series_list: Sequence, n_blocks: int = N_BLOCKS) -> np.ndarray:
    """Means of ``n_blocks`` equal blocks of the replicas joined end to end (the leading remainder dropped)."""
    y = np.concatenate([np.asarray(s, dtype=np.float64).ravel() for s in series_list])
    if y.size < n_blocks or n_blocks < 2:
        raise ValueError(f"block_means: {y.size} values cannot make {n_blocks} blocks (at least 2)")
    length = y.size // n_blocks
    return y[y.size - n_blocks * length:].reshape(n_blocks, length).mean(1)


def _wall_needed(means: np.ndarray, simulated_ps: float, ns_per_wall_s: float, relative_se: float) -> float:
    se = np.std(means, ddof=1) / np.sqrt(means.size)
    mean = abs(means.mean())
    if mean == 0:
        return float("nan")
    return float(simulated_ps * (se / (relative_se * mean)) ** 2 / (ns_per_wall_s * 1e3))


def time_to_precision(series_list: Sequence, interval_ps: float, ns_per_wall_s: float,
                      relative_se: float = RELATIVE_SE, n_boot: int = 1000, seed: int = 0) -> dict:
    """Wall seconds to reach ``relative_se`` on the mean of the observable, with its bootstrap draws."""
    if not ns_per_wall_s or not ns_per_wall_s > 0:
        raise ValueError(f"time_to_precision: simulated ns per wall second must be > 0, got {ns_per_wall_s}")
    means = block_means(series_list)
    simulated_ps = sum(np.asarray(s).size for s in series_list) * float(interval_ps)
    rng = np.random.default_rng(seed)
    draws = np.array([_wall_needed(means[rng.integers(means.size, size=means.size)], simulated_ps, ns_per_wall_s,
                                   relative_se) for _ in range(n_boot)])
    return {"mean": float(means.mean()), "se": float(np.std(means, ddof=1) / np.sqrt(means.size)),
            "simulated_ps": simulated_ps, "ns_per_wall_s": float(ns_per_wall_s),
            "wall_s": _wall_needed(means, simulated_ps, ns_per_wall_s, relative_se), "draws": draws}


def speedup(md: dict, cg: dict) -> dict:
    """t_MD / t_CG of two ``time_to_precision`` results, with a 95 % interval, and the CG mean's
    offset from MD's in units of their joint standard error (|z| > 2: the CG side is biased)."""
    ratios = md["draws"] / cg["draws"]
    ratios = ratios[np.isfinite(ratios)]
    low, high = np.quantile(ratios, [0.025, 0.975]) if ratios.size else (np.nan, np.nan)
    z = (cg["mean"] - md["mean"]) / np.hypot(cg["se"], md["se"])
    return {"value": md["wall_s"] / cg["wall_s"], "low": float(low), "high": float(high),
            "md_wall_s": md["wall_s"], "cg_wall_s": cg["wall_s"], "md_mean": md["mean"], "cg_mean": cg["mean"],
            "bias_z": float(z)}
