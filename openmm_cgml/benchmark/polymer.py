"""The polymer fidelity benchmark: CG rollouts against classical replicas of held-out chains, every
figure next to its MD-vs-MD ceiling.

For each sequence the classical replicas are split into halves A and B (``estimators.split_halves``).
The ceiling of a figure is its estimator applied to A against B; the CG figure is the same estimator
applied to CG replicas against B, where the CG side has as many replicas as A, each as long in
simulated time and started from where the A replica starts.  A perfect model therefore lands on
the ceiling up to noise, and both carry the same noise.  Across sequences, figures get bootstrap
95 % intervals over sequences.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import analysis
from . import estimators
from .gates import TAU_METHOD, polymer_gates
from .sources import (Replica, cg_side, choose_discard, classical_speed, dataset_molecules, model_mapping, model_settings,
                      replay, save_replicas, split_fingerprint, split_sources)

MSD_LAGS_PS = (20.0, 100.0, 500.0, 1000.0)
TAU_METHODS = ("efold", "integral", "fit")
JS_KEYS = ("rg", "bond_lengths", "bond_angles", "pair_distances")
CONTACT_QUANTILES = (0.001, 0.01)
RG_BINS = np.linspace(0.4, 2.0, 81)
REPLAY_STEP_PS = 20.0  # the polymer models' CG step


def local_samples(replicas: list[Replica], bonds) -> dict:
    """Bond lengths (nm) and bond angles (radians) of every frame of ``replicas``, pooled."""
    triples = analysis.angle_triples(bonds)
    return {"bond_lengths": np.concatenate([analysis.bond_lengths(r.beads, bonds).ravel() for r in replicas]),
            "bond_angles": np.concatenate([analysis.bond_angles(r.beads, triples).ravel() for r in replicas])}


def _observables(replicas: list[Replica], masses, bonds) -> dict:
    """Per side: Rg series per replica and pooled samples of the distributions compared by JS."""
    nonbonded = analysis.nonbonded_pairs(len(masses), bonds)
    rg = [analysis.radius_of_gyration(r.beads, masses) for r in replicas]
    return {
        "rg": rg, "interval_ps": replicas[0].interval_ps,
        "samples": {"rg": np.concatenate(rg), **local_samples(replicas, bonds),
                    "pair_distances": np.concatenate([analysis.pair_distances(r.beads).ravel() for r in replicas])},
        "nonbonded": np.concatenate([analysis.pair_distances(r.beads, nonbonded).ravel() for r in replicas]),
        "msd": _mean_over_replicas([estimators.msd_at_lags(r.beads, r.interval_ps, MSD_LAGS_PS) for r in replicas]),
    }


def _mean_over_replicas(rows) -> np.ndarray:
    """Column means of the finite values; NaN (without a warning) where a lag has none."""
    rows = np.asarray(rows, dtype=np.float64)
    finite = np.isfinite(rows)
    total = np.where(finite, rows, 0.0).sum(0)
    count = finite.sum(0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _taus(side: dict) -> dict:
    return estimators.relaxation_times([rg ** 2 for rg in side["rg"]], side["interval_ps"])


def sequence_figures(cg: list[Replica], md: list[Replica], masses, bonds, seed: int = 0,
                     cg_step_ps: float | None = None) -> dict:
    """Every per-sequence figure of CG against MD half B, and of MD half A against B (the ceiling).

    Half A is read every ``cg_step_ps`` (default: the CG replicas' frame interval), so that it has as
    many frames as the CG side: sample-size effects (JS divergences grow as samples shrink) then hit
    the CG figure and its ceiling alike."""
    a_reps, b_reps = estimators.split_halves(md)
    a_reps = replay(a_reps, cg_step_ps or cg[0].interval_ps)
    sides = {name: _observables(reps, masses, bonds) for name, reps in (("cg", cg), ("a", a_reps), ("b", b_reps))}
    all_md = [analysis.radius_of_gyration(r.beads, masses) ** 2 for r in md]  # every replica, every frame
    tau_all, tau_se = {}, {}
    for method in TAU_METHODS:
        tau_all[method], tau_se[method] = estimators.replica_bootstrap(
            all_md, lambda reps: estimators.relaxation_times(reps, md[0].interval_ps)[method], seed=seed)
    out = {"tau_ps": {name: _taus(side) for name, side in sides.items()},
           "tau_all_md_ps": tau_all,
           "tau_all_md_relative_se": {m: tau_se[m] / tau_all[m] if tau_all[m] > 0 else float("nan") for m in TAU_METHODS},
           "rg_mean_nm": {name: float(side["samples"]["rg"].mean()) for name, side in sides.items()},
           "rg_std_nm": {name: float(side["samples"]["rg"].std()) for name, side in sides.items()},
           "msd_nm2": {name: side["msd"].tolist() for name, side in sides.items()},
           "js_bits": {}, "close_contacts": {},
           "rg_histogram": {name: analysis.histogram(side["samples"]["rg"], RG_BINS).tolist() for name, side in sides.items()},
           "acf": {name: estimators.pooled_autocorrelation([rg ** 2 for rg in side["rg"]]).tolist() for name, side in sides.items()},
           "frame_interval_ps": {name: side["interval_ps"] for name, side in sides.items()},
           "replicas": {"cg": len(cg), "a": len(a_reps), "b": len(b_reps)},
           "replica_length_ps": {"cg": cg[0].length_ps, "md": md[0].length_ps}}
    bounds = {name: estimators.integral_time_bound(out["acf"][name], side["interval_ps"])
              if min(rg.size for rg in side["rg"]) >= analysis.MIN_FRAMES else (np.nan, False) for name, side in sides.items()}
    out["tau_integral_bound_ps"] = {name: bound for name, (bound, _) in bounds.items()}
    out["tau_integral_censored"] = {name: float(censored) for name, (_, censored) in bounds.items()}
    for key in JS_KEYS:
        out["js_bits"][key] = {other: analysis.distribution_js(sides[other]["samples"][key], sides["b"]["samples"][key])
                               for other in ("cg", "a")}
    if sides["b"]["nonbonded"].size:
        out["close_contacts"] = {other: estimators.close_contact_fractions(sides[other]["nonbonded"], sides["b"]["nonbonded"],
                                                                           CONTACT_QUANTILES) for other in ("cg", "a")}
    return out


def step_decorrelation(figures: dict, side: str) -> float:
    """``estimators.decorrelation_at`` one CG step (the CG side's frame interval) of one side of one
    sequence's figures."""
    return estimators.decorrelation_at(figures["acf"][side], figures["frame_interval_ps"][side],
                                       figures["frame_interval_ps"]["cg"])


def _median(values) -> float:
    """Median of the finite values; NaN (without a warning) when there are none (lags beyond every run)."""
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else float("nan")


def across_sequences(figures: list[dict], n_boot: int = 1000, seed: int = 0) -> dict:
    """Figures over sequences, each for CG and for the ceiling (A), with bootstrap 95 % intervals."""
    n = len(figures)

    def pick(path):
        values = []
        for f in figures:
            for key in path:
                f = f[key]
            values.append(f)
        return np.asarray(values, dtype=np.float64)

    def boot(statistic):
        return estimators.bootstrap_items(statistic, n, n_boot, seed)

    out = {"sequences": n, "rg_mean": {}, "rg_std": {}, "rg_std_ratio": {}, "step_decorrelation_ratio": {}, "tau": {},
           "tau_ratio": {}, "js_bits": {}, "close_contacts": {}, "msd_ratio": {}}
    for key in ("rg_mean", "rg_std"):
        truth = pick((f"{key}_nm", "b"))
        for side in ("cg", "a"):
            x = pick((f"{key}_nm", side))
            out[key][side] = {"pearson_r2": boot(lambda i: estimators.pearson_r2(x[i], truth[i])),
                              "R2": boot(lambda i: estimators.determination_r2(x[i], truth[i]))}
            if key == "rg_std":
                out["rg_std"][side]["log_slope"] = boot(lambda i: estimators.log_slope(truth[i], x[i]))
                out["rg_std_ratio"][side] = estimators.ratio_summary(x / truth)
    for side in ("cg", "a"):
        out["step_decorrelation_ratio"][side] = estimators.ratio_summary(
            np.array([step_decorrelation(f, side) / step_decorrelation(f, "b") for f in figures]))
    for method in TAU_METHODS:
        truth = pick(("tau_ps", "b", method))
        out["tau"][method], out["tau_ratio"][method] = {}, {}
        for side in ("cg", "a"):
            x = pick(("tau_ps", side, method))
            out["tau"][method][side] = {"pearson_r2": boot(lambda i: estimators.pearson_r2(x[i], truth[i])),
                                        "R2": boot(lambda i: estimators.determination_r2(x[i], truth[i]))}
            out["tau_ratio"][method][side] = estimators.ratio_summary(x / truth)
    if "tau_integral_bound_ps" in figures[0]:  # results written before censoring was kept lack it
        out["tau_ratio_bounds"] = {side: tau_ratio_bounds(figures, side) for side in ("cg", "a")}
    for key in JS_KEYS:
        out["js_bits"][key] = {side: boot(lambda i: np.nanmean(pick(("js_bits", key, side))[i])) for side in ("cg", "a")}
    if figures[0]["close_contacts"]:
        for q in figures[0]["close_contacts"]["cg"]:
            out["close_contacts"][q] = {side: boot(lambda i: np.nanmean(pick(("close_contacts", side, q, "cg_fraction"))[i]))
                                        for side in ("cg", "a")}
            out["close_contacts"][q]["expected"] = float(q)
    for j, lag in enumerate(MSD_LAGS_PS):
        truth = np.array([f["msd_nm2"]["b"][j] for f in figures], dtype=float)
        out["msd_ratio"][f"{lag:g}"] = {}
        for side in ("cg", "a"):
            ratio = np.array([f["msd_nm2"][side][j] for f in figures], dtype=float) / truth
            out["msd_ratio"][f"{lag:g}"][side] = boot(lambda i: _median(ratio[i]))
    out["tau_relative_se_all_md"] = {m: estimators.ratio_summary(pick(("tau_all_md_relative_se", m)), band=(0.0, 0.1))
                                     for m in TAU_METHODS}
    return out


def tau_ratio_bounds(figures: list[dict], side: str) -> dict:
    """``estimators.censored_ratio_summary`` of τ_side/τ_B by the integral over the sequences' figures,
    censored τ counted as bounds.  With CG repeats the CG side's is the mean over repeats of each
    repeat's summary (unbounded where any repeat's is), so that, like the ceiling's, it is read from
    runs of half A's size: a τ is censored more often in a smaller run, and a sequence whose τ one of
    R repeats could not measure would otherwise be open on every CG side with repeats."""
    repeats = len(figures[0].get("cg_repeats") or []) if side == "cg" else 0
    if repeats:
        per_repeat = [tau_ratio_bounds([repeat_figures(f, r) for f in figures], "cg") for r in range(repeats)]
        mean = {key: float(np.mean([summary[key] for summary in per_repeat])) for key in per_repeat[0]}
        return {**mean, "n": per_repeat[0]["n"], "repeats": repeats}
    values = [(f["tau_integral_bound_ps"][side], f["tau_integral_censored"][side], f["tau_integral_bound_ps"]["b"],
               f["tau_integral_censored"]["b"]) for f in figures]
    x, x_censored, truth, truth_censored = (np.array([np.nan if v is None else v for v in column], dtype=np.float64)
                                            for column in zip(*values))
    return estimators.censored_ratio_summary(x, x_censored > 0, truth, truth_censored > 0)


REPEAT_SEED_STRIDE = 1_000_003  # CG seeds of repeat r: seed + 100 i + r × this (never another sequence's or --seed's)


def mean_over_repeats(trees: list):
    """The element-wise mean of the CG side's figures over repeats: dicts key by key, lists and
    numbers element-wise, over the repeats that measured the figure (a τ estimator can return NaN for
    one set of replicas, e.g. when the ACF has not decayed within the trusted lags); NaN only where no
    repeat did.  A single run leaves such a sequence out of the τ figures altogether."""
    first = trees[0]
    if isinstance(first, dict):
        return {key: mean_over_repeats([t[key] for t in trees]) for key in first}
    mean = _mean_over_replicas(trees)  # a None (unmeasured, as JSON writes NaN) reads as NaN there
    return mean.tolist() if mean.ndim else float(mean)


def _cg_part(figures: dict) -> dict:
    """The CG side's entries of ``sequence_figures`` (every "cg" leaf; the MD sides are the same in every repeat)."""
    if not isinstance(figures, dict):
        return None
    if "cg" in figures:
        return figures["cg"]
    parts = {key: _cg_part(value) for key, value in figures.items()}
    return {key: value for key, value in parts.items() if value is not None} or None


def _with_cg(figures: dict, cg: dict) -> dict:
    """``figures`` with its CG leaves replaced by ``cg`` (shaped as ``_cg_part``)."""
    if "cg" in figures:
        return {**figures, "cg": cg}
    return {key: _with_cg(value, cg[key]) if key in cg else value for key, value in figures.items()}


def repeat_figures(figures: dict, r: int) -> dict:
    """One sequence's figures as CG repeat ``r`` alone measured them (a run without repeats)."""
    return {**_with_cg(figures, figures["cg_repeats"][r]), "cg_repeats": None}


def _one_sequence(model, data, split, mapping_method, discard_ps, source, seed, platform, replay_step_ps,
                  replicas_out=None, repeats: int = 1):
    """Worker: one sequence's classical replicas, its CG replicas and its figures (runs in a process);
    the CG replicas are saved to ``replicas_out``/NAME.npz (repeat r > 1: NAME-repeatR.npz) when given
    (``sources.save_replicas``).

    With ``repeats`` R > 1 the CG side is run R times with other seeds, each time as many replicas as
    half A; every CG figure is the mean of its R per-repeat values.  Each repeat has half A's sample
    size, so a figure keeps the expectation (and the sample-size bias) of one repeat and of the
    ceiling, while its CG noise shrinks about √R-fold; ``cg_repeats`` keeps the per-repeat values."""
    molecule = dataset_molecules(data, split, mapping_method, discard_ps, only={source})[0]
    per_repeat, length_ps, wall_s = [], 0.0, 0.0
    for r in range(repeats):
        cg, step = cg_side(model, molecule, seed + r * REPEAT_SEED_STRIDE, platform, replay_step_ps or REPLAY_STEP_PS)
        if replicas_out is not None:
            save_replicas(cg, Path(replicas_out) / (f"{molecule.name}.npz" if r == 0 else f"{molecule.name}-repeat{r + 1}.npz"))
        per_repeat.append(sequence_figures(cg, molecule.replicas, molecule.masses, molecule.bonds, seed, step))
        length_ps += sum(c.length_ps for c in cg)
        wall_s += sum(c.wall_s for c in cg)
    figures = per_repeat[0]
    if repeats > 1:
        parts = [_cg_part(f) for f in per_repeat]
        figures = _with_cg(figures, mean_over_repeats(parts))
        figures["cg_repeats"] = parts
    figures["cg_ps_per_wall_s"] = float(length_ps / wall_s) if np.isfinite(wall_s) else None
    speed = classical_speed(data, molecule)
    figures["md_ps_per_wall_s"] = None if speed is None else 1e3 * speed
    return molecule.name, figures


def run(model, data, split: str = "validation", processes: int = 2, platform: str = "CPU", seed: int = 1,
        discard_ps: float | None = None, n_boot: int = 1000, progress: bool = True,
        replay_step_ps: float | None = None, replicas_out=None, repeats: int = 1) -> dict:
    """The whole polymer benchmark on one split; returns the results (see ``output.write``); the CG
    replicas of every sequence are saved under ``replicas_out`` when given; ``repeats``: CG sides per
    sequence, figures averaged over them (``_one_sequence``)."""
    if repeats < 1:
        raise ValueError(f"polymer benchmark: repeats must be at least 1, not {repeats}")
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    from tqdm import tqdm

    mapping_method = model_mapping(model, "residue")
    discard = choose_discard(data, split) if discard_ps is None else {"discard_ps": float(discard_ps), "chosen": "given"}
    sources = split_sources(data, split)
    figures = {}
    with ProcessPoolExecutor(max(1, processes), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_one_sequence, str(model), str(data), split, mapping_method, discard["discard_ps"],
                               source, seed + 100 * i, platform, replay_step_ps, replicas_out, repeats)
                   for i, source in enumerate(sources)]
        for future in tqdm(as_completed(futures), total=len(futures), desc=f"{split} sequences", disable=not progress):
            name, values = future.result()
            figures[name] = values
    ordered = [figures[name] for name in sorted(figures)]
    summary = across_sequences(ordered, n_boot, seed)
    if repeats > 1:
        summary["per_repeat"] = per_repeat_figures(ordered, repeats, n_boot, seed)
    return {"benchmark": "polymer", "split": split, "data": str(data), "data_fingerprint": split_fingerprint(data, split),
            "mapping": mapping_method,
            "model": model_settings(model),
            "settings": {"seed": seed, "repeats": repeats, "platform": platform, "bootstrap_resamples": n_boot,
                         "msd_lags_ps": list(MSD_LAGS_PS), "close_contact_quantiles": list(CONTACT_QUANTILES)},
            "equilibration": discard, "per_sequence": dict(sorted(figures.items())),
            "summary": summary}


def per_repeat_figures(figures: list[dict], repeats: int, n_boot: int = 1000, seed: int = 0) -> list[dict]:
    """What each CG repeat alone would have scored, as one run of the benchmark: gates met, median
    τ_CG/τ_MD and R² of mean Rg (the spread of a single run, measured in the same command)."""
    rows = []
    for r in range(repeats):
        summary = across_sequences([repeat_figures(f, r) for f in figures], n_boot, seed)
        rows.append({"gates_met": sum(g["met"] for g in polymer_gates(summary)),
                     "tau_ratio_median": summary["tau_ratio"][TAU_METHOD]["cg"]["median"],
                     "rg_mean_R2": summary["rg_mean"]["cg"]["R2"]["value"]})
    return rows
