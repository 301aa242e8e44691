"""Effective speed: wall time to a 5 % standard error, with known answers on synthetic series."""
import numpy as np
import pytest

from openmm_cgml.benchmark import effective


def test_time_to_precision_of_independent_values():
    """Independent 0/1 values with p = 0.2: SE² = p(1 - p) / n, so reaching 5 % needs
    n = (1 - p) / (p · 0.05²) = 1600 values, here 1600 ps of simulated time at 1 ps per value."""
    rng = np.random.default_rng(0)
    series = [(rng.random(50_000) < 0.2).astype(float) for _ in range(4)]
    out = effective.time_to_precision(series, interval_ps=1.0, ns_per_wall_s=2.0)
    assert out["mean"] == pytest.approx(0.2, abs=0.005)
    assert out["wall_s"] * 2.0e3 == pytest.approx(1600.0, rel=0.5)  # ten block means: the estimate is rough
    assert out["draws"].size == 1000 and out["simulated_ps"] == 200_000.0


def test_correlated_series_need_longer():
    """The same values repeated 20 times each carry 20 times less information per value."""
    rng = np.random.default_rng(1)
    independent = [(rng.random(20_000) < 0.3).astype(float)]
    sticky = [np.repeat(s[:1000], 20) for s in independent]
    fast = effective.time_to_precision(independent, 1.0, 1.0)["wall_s"]
    slow = effective.time_to_precision(sticky, 1.0, 1.0)["wall_s"]
    assert 8 < slow / fast < 50


def test_speedup_is_the_ratio_of_times_and_flags_bias():
    rng = np.random.default_rng(2)
    md = effective.time_to_precision([(rng.random(40_000) < 0.1).astype(float)], 1.0, ns_per_wall_s=1.0)
    same = effective.time_to_precision([(rng.random(40_000) < 0.1).astype(float)], 1.0, ns_per_wall_s=10.0, seed=3)
    biased = effective.time_to_precision([(rng.random(40_000) < 0.3).astype(float)], 1.0, ns_per_wall_s=10.0)
    fair = effective.speedup(md, same)
    assert 3 < fair["value"] < 30 and fair["low"] < fair["value"] < fair["high"] and abs(fair["bias_z"]) < 4
    assert effective.speedup(md, biased)["bias_z"] > 10
    with pytest.raises(ValueError, match="per wall second"):
        effective.time_to_precision([np.ones(20)], 1.0, ns_per_wall_s=None)
    with pytest.raises(ValueError, match="cannot make 10 blocks"):
        effective.block_means([np.ones(5)])


def test_effective_speed_refuses_a_run_measured_on_other_classical_data():
    """A benchmark run's CG replicas start from its classical runs: read against regenerated data, its
    effective speed would compare unrelated runs, so the script stops and says so."""
    from openmm_cgml import analysis
    from openmm_cgml.benchmark.sources import Replica
    from script_loader import load_script

    script = load_script("benchmarks/effective_speed.py")
    rng = np.random.default_rng(3)
    replicas = [Replica(rng.normal(scale=0.5, size=(50, 4, 3)), 20.0, f"run {i}") for i in range(4)]
    md_rg = [analysis.radius_of_gyration(r.beads, np.ones(4)) for r in replicas]
    recorded = float(np.concatenate(md_rg[1::2]).mean())  # half B
    figures = {"rg_mean_nm": {"b": recorded}}
    script.check_same_data("run", {"data": "data/x"}, "SEQ", md_rg, figures)  # the data it was measured on
    figures["rg_mean_nm"]["b"] = recorded * 1.01
    with pytest.raises(SystemExit, match="data/x is not the data this run was measured on: half B of SEQ"):
        script.check_same_data("run", {"data": "data/x"}, "SEQ", md_rg, figures)
