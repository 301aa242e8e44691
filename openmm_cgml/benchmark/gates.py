"""The fidelity gates a model must pass to ship as faithful (docs/benchmark.md, "Gates"), read from
the summary of ``cgml benchmark polymer`` (``polymer_gates``) or ``cgml benchmark peptide``
(``peptide_gates``, the alanine-dipeptide kinetics targets).

Each gate is a figure of the benchmark, a target and whether it is met.  The same gates are read
for the MD-vs-MD ceiling (half A against half B), which tells which targets the classical data can
reach at all: a gate the ceiling misses cannot judge a model at this data budget.
"""
from __future__ import annotations

import math

TAU_METHOD = "integral"     # the τ(Rg²) estimator of the gates (the integral of the ACF)
CONTACT_QUANTILE = "0.001"  # close contacts: pairs below MD's 0.1 % distance quantile
JS_FIGURES = ("rg", "bond_lengths", "bond_angles", "pair_distances")


def _within(value, low: float = -math.inf, high: float = math.inf) -> bool:
    """Whether ``value`` is a finite number in [low, high] (a figure that could not be measured is not met)."""
    return value is not None and math.isfinite(value) and low <= value <= high


def polymer_gates(summary: dict, side: str = "cg") -> list[dict]:
    """[{"name", "value", "target", "met"}] for ``side`` "cg" (the model) or "a" (the ceiling).

    The two gates on τ_CG/τ_MD show the figure over the chains whose τ both sides measured; where the
    summary keeps the bounds of the censored chains (``tau_ratio_bounds``), a gate is met only if it
    holds at both bounds, and the gate carries them as "bounds" (results written before lack them,
    and their gates leave censored chains out)."""
    ratio = summary["tau_ratio"][TAU_METHOD][side]
    tau = summary["tau"][TAU_METHOD]
    ceiling_r2 = tau["a"]["pearson_r2"]["value"]
    ceiling_r2 = math.nan if ceiling_r2 is None else ceiling_r2  # unmeasured (None once read back from JSON)
    median_met, share_met = _within(ratio["median"], 0.85, 1.15), _within(ratio["fraction_in"], 0.8)
    bounds = summary.get("tau_ratio_bounds", {}).get(side)
    if bounds is not None:  # chains whose τ is censored count with their bounds: met only if every value they allow meets it
        median_met = _within(bounds["median_low"], 0.85, 1.15) and _within(bounds["median_high"], 0.85, 1.15)
        share_met = _within(bounds["fraction_in_low"], 0.8)
    gates = [
        ("median τ_CG/τ_MD", ratio["median"], "in [0.85, 1.15]", median_met),
        ("share of sequences with τ_CG/τ_MD in [0.67, 1.5]", ratio["fraction_in"], "≥ 0.8", share_met),
        ("Pearson r² of τ", tau[side]["pearson_r2"]["value"], f"≥ ceiling − 0.1 = {ceiling_r2 - 0.1:.3g}",
         _within(tau[side]["pearson_r2"]["value"], ceiling_r2 - 0.1)),
        ("R² of τ", tau[side]["R2"]["value"], "≥ 0.7", _within(tau[side]["R2"]["value"], 0.7)),
        ("R² of mean Rg", summary["rg_mean"][side]["R2"]["value"], "≥ 0.9", _within(summary["rg_mean"][side]["R2"]["value"], 0.9)),
    ]
    for key in JS_FIGURES:
        floor = summary["js_bits"][key]["a"]["value"]
        value = summary["js_bits"][key][side]["value"]
        gates.append((f"JS of {key.replace('_', ' ')} (bits)", value, f"≤ 2 × MD floor = {2 * floor:.3g}",
                      _within(value, high=2 * floor)))
    contacts = summary["close_contacts"][CONTACT_QUANTILE]
    excess = contacts[side]["value"] / contacts["expected"]
    gates.append(("close contacts / expected", excess, "≤ 2", _within(excess, high=2.0)))
    rows = [{"name": name, "value": value, "target": target, "met": bool(met)} for name, value, target, met in gates]
    if bounds is not None and bounds["censored"]:
        rows[0]["bounds"] = [bounds["median_low"], bounds["median_high"]]
        rows[1]["bounds"] = [bounds["fraction_in_low"], bounds["fraction_in_high"]]
    return rows


PEPTIDE_SLOWEST = ("mfpt_beta_to_alphaL_ns", "slowest_timescale_lag4_ns")  # the slowest transition; the longest lag


def peptide_gates(summary: dict, side: str = "cg") -> list[dict]:
    """[{"name", "value", "target", "met"}] of the kinetics benchmark for ``side`` "cg" or "a": Ramachandran
    JS within twice the MD floor; each state population, as a ratio to MD half B, inside the interval of
    the MD-vs-MD ratio (the spread between classical replicas); the mean first-passage time of the
    slowest transition and the slowest implied timescale (at the longest lag, 4 CG steps) within 25 %."""
    js = summary["ramachandran_js_bits"]
    ratios = summary["ratios"]
    gates = [("Ramachandran JS (bits)", js[side], f"≤ 2 × MD floor = {2 * js['a']:.3g}", _within(js[side], high=2 * js["a"]))]
    for key in sorted(k for k in ratios if k.startswith("population_")):
        band = ratios[key]["a"]
        gates.append((f"{key.replace('_', ' ')} / MD's", ratios[key][side]["value"],
                      f"in MD's interval [{band['low']:.3g}, {band['high']:.3g}]",
                      _within(ratios[key][side]["value"], band["low"], band["high"])))
    for key in PEPTIDE_SLOWEST:
        gates.append((f"{key.replace('_', ' ')} / MD's", ratios[key][side]["value"], "in [0.75, 1.25]",
                      _within(ratios[key][side]["value"], 0.75, 1.25)))
    return [{"name": name, "value": value, "target": target, "met": bool(met)} for name, value, target, met in gates]


def gates_of(summary: dict, side: str = "cg") -> list[dict]:
    """The gates of either benchmark's summary."""
    return (peptide_gates if "ramachandran_js_bits" in summary else polymer_gates)(summary, side)


def gates_met(summary: dict, side: str = "cg") -> str:
    """"k of N" gates met by ``side``."""
    gates = gates_of(summary, side)
    return f"{sum(g['met'] for g in gates)} of {len(gates)}"
