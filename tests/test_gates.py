"""The fidelity gates (benchmark.gates) read from committed benchmark results with known answers."""
import json
from pathlib import Path

from openmm_cgml.benchmark.gates import gates_met, polymer_gates

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
