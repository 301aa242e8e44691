"""The fidelity benchmark's drivers: figures with known answers on synthetic replicas, and both
benchmarks end to end (command line, results JSON, report) on tiny generated datasets."""
import json

import numpy as np
import pytest

from openmm_cgml.benchmark import polymer
from openmm_cgml.benchmark.gates import polymer_gates
from openmm_cgml.benchmark.sources import Replica, load_replicas, replay, split_fingerprint
from openmm_cgml.bundle import shipped_model
from openmm_cgml.cli import main as cgml
from openmm_cgml.reference import Job, RunSettings, generate
from openmm_cgml.report import clean


def ornstein_uhlenbeck(rng, n_frames, tau_frames):
    """A unit-variance Ornstein–Uhlenbeck series of ``n_frames`` relaxing in ``tau_frames`` frames, from 0."""
    a = np.exp(-1.0 / tau_frames)
    s = np.empty(n_frames)
    s[0] = 0.0
    noise = rng.normal(scale=np.sqrt(1 - a * a), size=n_frames)
    for t in range(1, n_frames):
        s[t] = a * s[t - 1] + noise[t]
    return s


def breathing_chain(seed, n_frames=6000, tau_frames=25.0, interval_ps=2.0):
    """A 6-bead chain whose size breathes as an Ornstein–Uhlenbeck process (relaxation time of
    the scale ``tau_frames`` frames), with small independent jitter: Rg² relaxes on that scale."""
    rng = np.random.default_rng(seed)
    s = ornstein_uhlenbeck(rng, n_frames, tau_frames)
    base = np.array([[0.38 * i, 0.1 * (i % 2), 0.0] for i in range(6)])
    x = base[None] * (1.0 + 0.15 * s)[:, None, None] + rng.normal(scale=0.01, size=(n_frames, 6, 3))
    return Replica(x, interval_ps, f"synthetic-{seed}")


def test_replay_stand_ins_have_known_answers():
    """A replay of half A at a 20 ps step is a perfect model: its τ ratio to half B matches the
    ceiling's; a replay played twice too slowly doubles τ, and the figures show it."""
    md = [breathing_chain(seed) for seed in range(4)]
    masses, bonds = np.full(6, 50.0), [(i, i + 1) for i in range(5)]
    a_reps, _ = polymer.estimators.split_halves(md)
    good = polymer.sequence_figures(replay(a_reps, 20.0), md, masses, bonds)
    slow = polymer.sequence_figures(replay(a_reps, 20.0, slowdown=2.0), md, masses, bonds)
    tau = good["tau_ps"]
    assert tau["b"]["efold"] == pytest.approx(50.0, rel=0.25)  # 25 frames of 2 ps
    assert tau["cg"]["efold"] == pytest.approx(tau["a"]["efold"], rel=0.1)
    assert slow["tau_ps"]["cg"]["efold"] == pytest.approx(2 * tau["cg"]["efold"], rel=1e-9)
    assert good["rg_mean_nm"]["cg"] == pytest.approx(good["rg_mean_nm"]["a"], rel=0.01)
    # Distributions are those of half A, read every 10th frame: the JS stays at the MD floor.
    assert good["js_bits"]["rg"]["cg"] < 3 * good["js_bits"]["rg"]["a"] + 0.01
    assert slow["msd_nm2"]["cg"][1] < good["msd_nm2"]["cg"][1]  # slower dynamics, smaller MSD at 100 ps
    assert np.isnan(slow["msd_nm2"]["cg"][0])  # its frames are 40 ps apart: no estimate at 20 ps
    summary = polymer.across_sequences([good, slow, good, slow], n_boot=50)
    assert summary["tau_ratio"]["efold"]["cg"]["median"] == pytest.approx(
        np.median([tau["cg"]["efold"] / tau["b"]["efold"]] * 2 + [slow["tau_ps"]["cg"]["efold"] / tau["b"]["efold"]] * 2))


def test_a_tau_too_slow_for_the_run_counts_as_a_lower_bound_not_as_a_missing_chain():
    """A CG side whose chains swell steadily through the run never decorrelates within the trusted lags:
    its integral τ is unmeasured, kept as a lower bound, and the median τ ratio over every chain is
    then open above; where every τ is measured the bounds are the plain median and share."""
    md = [breathing_chain(seed) for seed in range(4)]
    masses, bonds = np.full(6, 50.0), [(i, i + 1) for i in range(5)]
    a_reps, _ = polymer.estimators.split_halves(md)
    good = polymer.sequence_figures(replay(a_reps, 20.0), md, masses, bonds)
    base = md[0].beads[0]
    swelling = [Replica(base[None] * np.linspace(0.9, 1.1, 600)[:, None, None]
                        + np.random.default_rng(seed).normal(scale=0.01, size=(600, 6, 3)), 20.0, f"swelling-{seed}")
                for seed in range(2)]
    stuck = polymer.sequence_figures(swelling, md, masses, bonds)
    assert good["tau_integral_censored"] == {"cg": 0.0, "a": 0.0, "b": 0.0}
    assert good["tau_integral_bound_ps"]["cg"] == pytest.approx(good["tau_ps"]["cg"]["integral"])
    assert stuck["tau_integral_censored"]["cg"] == 1.0 and np.isnan(stuck["tau_ps"]["cg"]["integral"])
    assert stuck["tau_integral_bound_ps"]["cg"] > stuck["tau_integral_bound_ps"]["b"]
    plain = polymer.across_sequences([good] * 3, n_boot=20)
    bounds, ratio = plain["tau_ratio_bounds"]["cg"], plain["tau_ratio"]["integral"]["cg"]
    assert bounds["median_low"] == bounds["median_high"] == pytest.approx(ratio["median"]) and bounds["censored"] == 0
    summary = polymer.across_sequences([good, stuck, stuck], n_boot=20)
    assert summary["tau_ratio"]["integral"]["cg"]["n"] == 1  # the stuck chains drop out of the plain figure
    bounds = summary["tau_ratio_bounds"]["cg"]
    assert bounds["censored"] == 2 and bounds["median_high"] == np.inf and bounds["median_low"] > 1.0
    median = {g["name"]: g for g in polymer_gates(summary)}["median τ_CG/τ_MD"]
    assert not median["met"] and median["bounds"][1] == np.inf


def test_spread_and_one_step_decorrelation_have_known_answers():
    """The Rg spread and the decorrelation in one CG step are summarised for every sequence: a replay of
    half A matches the ceiling's; a chain breathing twice as wide has twice the spread; a replay played
    twice too slowly forgets in one step of 40 ps what MD forgets in 20 ps (τ 50 ps: (1 − e^−0.4) / (1 − e^−0.8))."""
    md = [breathing_chain(seed) for seed in range(4)]
    masses, bonds = np.full(6, 50.0), [(i, i + 1) for i in range(5)]
    a_reps, _ = polymer.estimators.split_halves(md)
    good = polymer.sequence_figures(replay(a_reps, 20.0), md, masses, bonds)
    slow = polymer.sequence_figures(replay(a_reps, 20.0, slowdown=2.0), md, masses, bonds)
    wide = [Replica(r.beads.mean(1, keepdims=True) + 2.0 * (r.beads - r.beads.mean(1, keepdims=True)), r.interval_ps, r.name)
            for r in replay(a_reps, 20.0)]
    wide = polymer.sequence_figures(wide, md, masses, bonds)
    assert polymer.step_decorrelation(good, "cg") == pytest.approx(polymer.step_decorrelation(good, "a"), rel=1e-12)
    assert polymer.step_decorrelation(good, "b") == pytest.approx(polymer.step_decorrelation(good, "a"), rel=0.2)
    def ratio(figures):
        return polymer.step_decorrelation(figures, "cg") / polymer.step_decorrelation(figures, "b")

    assert ratio(slow) / ratio(good) == pytest.approx((1 - np.exp(-0.4)) / (1 - np.exp(-0.8)), abs=0.1)
    assert wide["rg_std_nm"]["cg"] == pytest.approx(2 * good["rg_std_nm"]["cg"], rel=1e-9)
    summary = polymer.across_sequences([good, slow, wide, good], n_boot=50)
    ratios = [f["rg_std_nm"]["cg"] / f["rg_std_nm"]["b"] for f in (good, slow, wide, good)]
    assert summary["rg_std_ratio"]["cg"]["median"] == pytest.approx(np.median(ratios))
    assert summary["step_decorrelation_ratio"]["a"]["median"] == pytest.approx(
        polymer.step_decorrelation(good, "a") / polymer.step_decorrelation(good, "b"))
    assert set(summary["rg_std"]["cg"]) == {"pearson_r2", "R2", "log_slope"}
    from openmm_cgml.benchmark.output import by_sequence, polymer_lines
    names = [line[0] for line in polymer_lines(summary)]
    assert "Rg spread (sd) CG/MD" in names and "Rg spread (sd), R²" in names
    assert by_sequence(wide)["cg"]["rg_std_nm"] == pytest.approx(2 * by_sequence(good)["cg"]["rg_std_nm"])
    assert by_sequence(slow)["cg"]["tau_efold"] == pytest.approx(2 * by_sequence(good)["cg"]["tau_efold"], rel=1e-9)


def test_decorrelation_at_is_unmeasured_off_the_frames():
    acf = [1.0, 0.9, 0.7, None]
    assert polymer.estimators.decorrelation_at(acf, 2.0, 4.0) == pytest.approx(0.3)
    assert np.isnan(polymer.estimators.decorrelation_at(acf, 2.0, 3.0))   # not a whole number of frames
    assert np.isnan(polymer.estimators.decorrelation_at(acf, 2.0, 6.0))   # unmeasured
    assert np.isnan(polymer.estimators.decorrelation_at(acf, 2.0, 20.0))  # beyond the ACF
    with pytest.raises(ValueError, match="interval_ps must be positive"):
        polymer.estimators.decorrelation_at(acf, 0.0, 2.0)


def _polymer_dataset(tmp_path):
    sequences = ["SSLHRHLS", "RRHHSSLL"]
    jobs = [Job(f"{s}-r{r}", "polymer", s, 10 * i + r) for i, s in enumerate(sequences) for r in range(2)]
    splits = {"validation": [j.name for j in jobs], "test": []}
    settings = RunSettings(production_ps=120.0, save_interval_ps=2.0, equilibration_ps=10.0, platform="Reference")
    generate(jobs, splits, tmp_path / "data", settings, processes=1)
    return tmp_path / "data"


def test_polymer_benchmark_command_end_to_end(tmp_path, capsys):
    data = _polymer_dataset(tmp_path)
    out = tmp_path / "bench"
    assert cgml(["benchmark", "polymer", "--model", "replay", "--data", str(data), "--out", str(out), "--processes", "1",
                 "--bootstrap", "20", "--discard-ps", "20", "--platform", "Reference"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["command"].startswith("cgml benchmark polymer --model replay")
    assert results["model"] == {"stand_in": "replay"} and results["split"] == "validation"
    assert results["data_fingerprint"] == split_fingerprint(data, "validation") and len(results["data_fingerprint"]) == 16
    assert sorted(results["per_sequence"]) == ["RRHHSSLL", "SSLHRHLS"]
    assert all(f["md_ps_per_wall_s"] > 0 for f in results["per_sequence"].values())
    saved = np.load(out / "cg_replicas" / "RRHHSSLL.npz", allow_pickle=False)
    assert saved["beads"].ndim == 4 and saved["beads"].shape[-1] == 3 and saved["names"][0].startswith("replay of")
    printed = capsys.readouterr().out
    assert "mean Rg, Pearson r²: CG" in printed and "vs MD ceiling" in printed
    assert all((out / name).stat().st_size > 0 for name in ("report.md", "scatter.png", "acf.png", "js.png", "by_sequence.png"))


def test_polymer_benchmark_repeats_average_the_cg_side_only(tmp_path):
    """--repeats 2 runs the CG side twice with other random numbers: every CG figure is the mean of
    the two repeats' values, repeat 1 is the single run of the same seed, the MD sides are untouched."""
    data = _polymer_dataset(tmp_path)
    bundle = shipped_model("polymer")
    runs = {}
    for repeats in (1, 2):
        out = tmp_path / f"bench{repeats}"
        assert cgml(["benchmark", "polymer", "--model", str(bundle), "--data", str(data), "--out", str(out),
                     "--processes", "1", "--bootstrap", "20", "--discard-ps", "20", "--platform", "Reference",
                     "--repeats", str(repeats)]) == 0
        runs[repeats] = json.loads((out / "results.json").read_text())
    assert runs[2]["settings"]["repeats"] == 2 and "mean of its 2 values" in (tmp_path / "bench2" / "report.md").read_text()
    assert (tmp_path / "bench2" / "cg_replicas" / "RRHHSSLL-repeat2.npz").exists()
    alone = runs[2]["summary"]["per_repeat"]  # what each repeat would have scored as a run of its own
    assert len(alone) == 2 and alone[0]["rg_mean_R2"] == pytest.approx(runs[1]["summary"]["rg_mean"]["cg"]["R2"]["value"])
    assert alone[0]["gates_met"] == sum(g["met"] for g in polymer_gates(runs[1]["summary"]))
    assert "each CG repeat alone" in (tmp_path / "bench2" / "report.md").read_text()
    # censored τ: the CG bounds are the mean of each repeat's, repeat 1's being the single run's
    figures = [runs[2]["per_sequence"][name] for name in sorted(runs[2]["per_sequence"])]
    each = [polymer.tau_ratio_bounds([polymer.repeat_figures(f, r) for f in figures], "cg") for r in range(2)]
    bounds = runs[2]["summary"]["tau_ratio_bounds"]["cg"]
    assert bounds["repeats"] == 2 and bounds["censored"] == pytest.approx((each[0]["censored"] + each[1]["censored"]) / 2)
    assert clean(each[0]) == runs[1]["summary"]["tau_ratio_bounds"]["cg"]
    assert runs[2]["summary"]["tau_ratio_bounds"]["a"] == runs[1]["summary"]["tau_ratio_bounds"]["a"]
    for name, single in runs[1]["per_sequence"].items():
        double = runs[2]["per_sequence"][name]
        first, second = double["cg_repeats"]
        assert first["rg_mean_nm"] == single["rg_mean_nm"]["cg"]  # repeat 1 is the single run
        assert second["rg_mean_nm"] != first["rg_mean_nm"]         # repeat 2 drew other numbers
        assert double["rg_mean_nm"]["cg"] == pytest.approx((first["rg_mean_nm"] + second["rg_mean_nm"]) / 2)
        assert double["js_bits"]["bond_lengths"]["cg"] == pytest.approx(
            (first["js_bits"]["bond_lengths"] + second["js_bits"]["bond_lengths"]) / 2)
        assert double["msd_nm2"]["cg"][0] == pytest.approx((first["msd_nm2"][0] + second["msd_nm2"][0]) / 2)  # 20 ps
        for side in ("a", "b"):
            assert double["rg_mean_nm"][side] == single["rg_mean_nm"][side]
            assert double["tau_ps"][side] == single["tau_ps"][side]


def test_repeats_average_only_what_each_repeat_measured():
    """A τ one repeat could not measure (NaN) is left out of that sequence's mean, not spread to it."""
    nan = float("nan")
    mean = polymer.mean_over_repeats([{"tau_ps": {"integral": nan, "efold": 100.0}, "msd_nm2": [0.1, nan]},
                                      {"tau_ps": {"integral": 300.0, "efold": 200.0}, "msd_nm2": [0.3, nan]},
                                      {"tau_ps": {"integral": 600.0, "efold": 300.0}, "msd_nm2": [0.2, nan]}])
    assert mean["tau_ps"] == {"integral": 450.0, "efold": 200.0}
    assert mean["msd_nm2"][0] == pytest.approx(0.2) and np.isnan(mean["msd_nm2"][1])


def test_polymer_benchmark_refuses_zero_repeats():
    with pytest.raises(ValueError, match="repeats must be at least 1, not 0"):
        polymer.run("replay", "no-such-data", repeats=0)


def _united_atom_forcefield(data, path, timestep_ps=0.01):
    """A force field for the united-atom beads of ``data``: fitted prior, small untrained network."""
    import torch

    from openmm_cgml.data import run_paths
    from openmm_cgml.forcefield.forces import load_force_frames
    from openmm_cgml.forcefield.model import CGForceField, ForceFieldConfig
    from openmm_cgml.forcefield.system import save_forcefield
    from openmm_cgml.forcefield.train import fit_prior

    torch.manual_seed(0)
    model = CGForceField(ForceFieldConfig(hidden=4, layers=1, temperature_k=500.0)).to(torch.float32)
    fit_prior(model, [load_force_frames(run_paths(data, "train")[0], every=4, mapping_method="united-atom")])
    metadata = {"temperature_k": 500.0, "friction_per_ps": 50.0, "timestep_ps": timestep_ps, "mapping": "united-atom"}
    return save_forcefield(model, path, metadata)


def test_peptide_benchmark_command_end_to_end(alanine, tmp_path, capsys):
    out = tmp_path / "bench"
    assert cgml(["benchmark", "peptide", "--model", "replay:2", "--data", str(alanine), "--out", str(out),
                 "--bootstrap", "10", "--replay-step-ps", "4", "--platform", "Reference"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["mapping"] == "united-atom" and results["summary"]["replicas"] == {"cg": 2, "a": 2, "b": 2}
    assert results["summary"]["md_ns_per_wall_s"] > 0 and results["summary"]["cg_ns_per_wall_s"] is None  # stand-in
    printed = capsys.readouterr().out
    assert "Ramachandran JS" in printed and "simulated ns per wall second, one core: CG n/a vs MD" in printed
    assert (out / "ramachandran.png").stat().st_size > 0


def test_peptide_benchmark_runs_a_forcefield_in_segments(alanine, tmp_path):
    """``--segments 2``: each of half A's two replicas gives two force-field copies, each half as long."""
    path = _united_atom_forcefield(alanine, tmp_path / "ff.pt")
    out = tmp_path / "bench"
    assert cgml(["benchmark", "peptide", "--model", str(path), "--data", str(alanine), "--out", str(out),
                 "--bootstrap", "10", "--replay-step-ps", "4", "--segments", "2", "--platform", "Reference"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["kind"] == "cg-forcefield" and results["settings"]["forcefield_segments"] == 2
    assert results["summary"]["replicas"] == {"cg": 4, "a": 2, "b": 2}
    assert results["summary"]["replica_length_ns"]["cg"] == pytest.approx(0.5 * results["summary"]["replica_length_ns"]["md"])
    saved = np.load(out / "cg_replicas.npz", allow_pickle=False)
    assert saved["beads"].shape == (4, 5, 10, 3) and float(saved["interval_ps"]) == 4.0
    assert saved["names"][1].endswith("segment 2/2") and (saved["wall_s"] > 0).all()
    loaded = load_replicas(out / "cg_replicas.npz")
    np.testing.assert_array_equal(loaded[3].beads, saved["beads"][3])
    assert (loaded[1].name, loaded[1].interval_ps, loaded[1].length_ps) == (str(saved["names"][1]), 4.0, 20.0)


def test_forcefield_segments_start_where_half_a_is(alanine, monkeypatch):
    """Segment k of a replica starts from its bead positions at k / S of its length; the copies are
    shared out over the processes' Systems and every copy runs as long as a segment."""
    from openmm_cgml.benchmark import estimators, sources

    molecule = sources.dataset_molecules(alanine, "validation", "united-atom")[0]
    a_reps, _ = estimators.split_halves(molecule.replicas)
    calls = []

    def fake_simulate(path, topology, system, starts, length_ps, interval_ps, seed, platform, mapping, progress=None):
        calls.append((starts, length_ps))
        return [np.full((int(length_ps / interval_ps), mapping.n_beads, 3), float(len(calls))) for _ in starts], 2.0

    monkeypatch.setattr(sources, "simulate", fake_simulate)
    monkeypatch.setattr(sources, "forcefield_metadata", lambda path: {"mapping": "united-atom"})
    runs = sources.forcefield_side("ff.pt", molecule, a_reps, [None, None], seed=1, platform="Reference",
                                   interval_ps=4.0, segments=4)
    (starts, length), = calls
    assert length == pytest.approx(a_reps[0].length_ps / 4) and len(runs) == 8
    stride = int(round(length / a_reps[0].interval_ps))
    np.testing.assert_array_equal(starts[5], a_reps[1].beads[stride])  # replica 1, segment 2
    assert runs[5].name.endswith("segment 2/4") and all(r.wall_s == pytest.approx(2.0 / 8) for r in runs)
    with pytest.raises(ValueError, match="segments"):
        sources.forcefield_side("ff.pt", molecule, a_reps, [None, None], 1, "Reference", 4.0, segments=0)


def test_a_ratio_over_fewer_chains_than_the_split_says_so():
    """Chains whose τ is unmeasured drop out of the ratio's median; the line names how many remain."""
    from openmm_cgml.benchmark.output import _ratio

    entry = polymer.estimators.ratio_summary([1.0, 1.2, float("nan"), 0.9])
    assert entry["n"] == 3
    assert _ratio(entry, 4).endswith(", over 3 of 4 chains")
    assert "over" not in _ratio(polymer.estimators.ratio_summary([1.0, 1.2, 0.8, 0.9]), 4)


def test_the_data_fingerprint_follows_the_classical_frames(tmp_path):
    """Results record which copy of the reference data they were measured on: the fingerprint of a
    split changes when one coordinate of one run changes, and a split the dataset lacks is refused."""
    import tables

    data = _polymer_dataset(tmp_path)
    before = split_fingerprint(data, "validation")
    assert split_fingerprint(data, "validation") == before
    name = json.loads((data / "dataset.json").read_text())["splits"]["validation"][1]
    with tables.open_file(str(data / "trajectories" / f"{name}.h5"), "a") as h5:
        h5.root.coordinates[3, 0, 0] += 1e-3
    assert split_fingerprint(data, "validation") != before
    with pytest.raises(ValueError, match="has no split 'train'"):
        split_fingerprint(data, "train")
