"""The fidelity gates (benchmark.gates) read from committed benchmark results with known answers."""
import json
from pathlib import Path

from openmm_cgml.benchmark.gates import gates_met, peptide_gates, polymer_gates

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def summary(name: str) -> dict:
    return json.loads((RESULTS / name / "results.json").read_text())["summary"]


def test_a_perfect_replay_meets_what_its_ceiling_meets_and_a_slow_one_misses_the_median():
    perfect, slow = summary("polymer-test-replay"), summary("polymer-test-replay-slow")
    assert [g["met"] for g in polymer_gates(perfect)] == [g["met"] for g in polymer_gates(perfect, "a")]
    assert gates_met(perfect) == gates_met(perfect, "a")
    median = {g["name"]: g for g in polymer_gates(slow)}["median τ_CG/τ_MD"]
    assert median["value"] > 1.5 and not median["met"]


def test_every_gate_names_its_target_and_an_unmeasured_figure_is_not_met():
    values = summary("polymer-test")
    values["tau"]["integral"]["cg"]["pearson_r2"]["value"] = None
    gates = polymer_gates(values)
    assert len(gates) == 10 and all(g["target"] for g in gates)
    assert not {g["name"]: g for g in gates}["Pearson r² of τ"]["met"]


def test_peptide_gates_of_a_perfect_replay_a_slowed_one_and_the_spread_baseline():
    """The replay of MD half A meets what its ceiling meets (it is the ceiling; with two replicas a half,
    even MD misses the first-passage gate); replayed at half speed its first-passage time and timescale
    double and miss; the 100 ps baseline misses JS and αL."""
    perfect, slow = summary("peptide-test-replay-100ps"), summary("peptide-test-replay-100ps-slow")
    assert [g["met"] for g in peptide_gates(perfect)] == [g["met"] for g in peptide_gates(perfect, "a")]
    fast, by_name = {g["name"]: g for g in peptide_gates(perfect)}, {g["name"]: g for g in peptide_gates(slow)}
    for name in ("mfpt beta to alphaL ns / MD's", "slowest timescale lag4 ns / MD's"):
        assert abs(by_name[name]["value"] / fast[name]["value"] - 2) < 0.05 and not by_name[name]["met"]
    baseline = {g["name"]: g for g in peptide_gates(summary("peptide-test-vacuum-100ps"))}
    assert not baseline["Ramachandran JS (bits)"]["met"] and not baseline["population alphaL / MD's"]["met"]
    assert all(g["target"] for g in baseline.values()) and len(baseline) == 4


def test_tau_gates_hold_at_both_bounds_of_the_censored_chains():
    values = summary("polymer-test-replay")
    plain = {g["name"]: g for g in polymer_gates(values)}
    ceiling = {g["name"]: g for g in polymer_gates(values, "a")}
    assert plain["median τ_CG/τ_MD"]["bounds"] == ceiling["median τ_CG/τ_MD"]["bounds"]  # a perfect replay
    low, high = plain["median τ_CG/τ_MD"]["bounds"]
    assert low <= high and plain["median τ_CG/τ_MD"]["met"] == (0.85 <= low and high <= 1.15)
    median = 1.0
    values["tau_ratio_bounds"] = {side: {"median_low": median, "median_high": median, "fraction_in_low": 1.0,
                                         "fraction_in_high": 1.0, "n": 16, "censored": 0} for side in ("cg", "a")}
    gates = {g["name"]: g for g in polymer_gates(values)}
    assert gates["median τ_CG/τ_MD"]["met"] and gates["share of sequences with τ_CG/τ_MD in [0.67, 1.5]"]["met"]
    values["tau_ratio_bounds"]["cg"].update(median_high=None, fraction_in_low=0.5, censored=3)  # unbounded above
    gates = {g["name"]: g for g in polymer_gates(values)}
    assert not gates["median τ_CG/τ_MD"]["met"] and gates["median τ_CG/τ_MD"]["bounds"] == [median, None]
    assert not gates["share of sequences with τ_CG/τ_MD in [0.67, 1.5]"]["met"]
    assert gates["median τ_CG/τ_MD"]["value"] == plain["median τ_CG/τ_MD"]["value"]  # the figure itself is unchanged
