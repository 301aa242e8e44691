"""The long-run population diagnostic: copies of a peptide in one System, started from classical
frames spread through a split, against known answers from stand-in bundles."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from openmm_cgml.benchmark import equilibrium, kinetics
from openmm_cgml.benchmark.peptide import angles
from openmm_cgml.benchmark.sources import Replica, dataset_molecules
from openmm_cgml.bundle import save_bundle
from openmm_cgml.data import read_dataset, read_run
from openmm_cgml.standins import UniformDrift

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import peptide_equilibrium  # noqa: E402


def test_starts_are_spread_evenly_over_the_split_runs(alanine):
    names = read_dataset(alanine)["splits"]["validation"]
    frames = equilibrium.split_frames(alanine, "validation", 6)
    runs = [read_run(alanine / "trajectories" / f"{n}.h5")[2].xyz for n in names]
    # copies 0 and 4 from the first run (its first frame and its middle), 1 and 5 from the second, 2, 3 one each
    expected = [runs[0][0], runs[1][0], runs[2][0], runs[3][0], runs[0][len(runs[0]) // 2], runs[1][len(runs[1]) // 2]]
    for got, want in zip(frames, expected):
        np.testing.assert_allclose(got, want, atol=1e-6)
    with pytest.raises(ValueError, match="copies must be at least 1"):
        equilibrium.split_frames(alanine, "validation", 0)


def test_copies_move_together_yet_keep_their_own_shapes(alanine, tmp_path):
    """A drifting stand-in moves every copy by v dt per step and changes no copy's dihedrals."""
    bundle = save_bundle(UniformDrift(velocity=(0.1, -0.2, 0.3), timestep_ps=2.0), tmp_path / "drift.pt")
    molecule = dataset_molecules(alanine, "validation", "united-atom")[0]
    starts = equilibrium.split_frames(alanine, "validation", 3)
    copies = equilibrium.batched_rollouts(bundle, molecule, starts, 5)
    assert len(copies) == 3 and copies[0].beads.shape == (5, molecule.mapping.n_beads, 3)
    assert copies[0].interval_ps == 2.0 and all(c.wall_s > 0 for c in copies)
    for copy, start in zip(copies, starts):
        np.testing.assert_allclose(np.diff(copy.beads, axis=0), np.broadcast_to([0.2, -0.4, 0.6], (4, 10, 3)), atol=1e-9)
        start_angles = angles([Replica(molecule.mapping.centres(start)[None], 2.0, "start")], molecule)[0]
        run_angles = angles([copy], molecule)[0]
        np.testing.assert_allclose(run_angles[0], np.full(5, start_angles[0][0]), atol=1e-6)
        np.testing.assert_allclose(run_angles[1], np.full(5, start_angles[1][0]), atol=1e-6)


def test_a_model_that_stands_still_keeps_the_start_frames_populations(alanine, tmp_path, capsys, monkeypatch):
    """Known answer: the stand-in keeps each copy at its start frame, so the CG populations are the
    start frames' (copies whose start lies between the cores count for neither state).  The tiny
    dataset's frames lie in beta; mirror images of three of them (phi near -1.6 rad becomes +1.6)
    put copies into alphaL, how many depends on the frames the classical runs gave on this machine."""
    split_frames = equilibrium.split_frames

    def with_mirror_images(data, split, copies):
        frames = split_frames(data, split, copies)
        return [f * np.array([-1.0, 1.0, 1.0]) if c in (3, 5, 7) else f for c, f in enumerate(frames)]

    monkeypatch.setattr(equilibrium, "split_frames", with_mirror_images)
    bundle = save_bundle(UniformDrift(velocity=(0.0, 0.0, 0.0), timestep_ps=2.0), tmp_path / "still.pt")
    out = tmp_path / "eq"
    assert peptide_equilibrium.main(["--model", str(bundle), "--data", str(alanine), "--copies", "12",
                                     "--length-ns", "0.008", "--bootstrap", "20", "--threads", "1", "--one-step-every", "0",
                                     "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    summary = results["summary"]
    assert results["model"]["file_sha256"] and results["settings"]["copies"] == 12
    assert summary["steps_per_copy"] == 4 and summary["md_ns"] == {"validation": pytest.approx(0.16), "train": pytest.approx(0.04)}
    molecule = dataset_molecules(alanine, "validation", "united-atom")[0]
    starts = np.stack([molecule.mapping.centres(f) for f in with_mirror_images(alanine, "validation", 12)])
    phi, psi = angles([Replica(starts, 2.0, "starts")], molecule)[0]

    def share(angle, cores):  # of the copies that start inside a core, those in the second state's
        first, second = kinetics.in_core(angle, cores[0]), kinetics.in_core(angle, cores[1])
        return second.sum() / (first | second).sum()

    assert 0 < share(phi, kinetics.PHI_CORES) < 1  # the mirror images reach alphaL: not a vacuous check
    for side in ("cg", "cg_first_half", "cg_second_half"):
        assert summary["sides"][side]["population_alphaL"]["value"] == pytest.approx(share(phi, kinetics.PHI_CORES))
        assert summary["sides"][side]["population_helical_psi"]["value"] == pytest.approx(share(psi, kinetics.PSI_CORES))
        assert summary["sides"][side]["rate_beta_to_alphaL_per_ns"]["value"] == 0.0
    assert summary["sides"]["md_validation"]["population_alphaL"]["value"] == 0.0
    assert set(summary["sides"]) == {"cg", "cg_first_half", "cg_second_half", "md_validation", "md_train"}
    printed = capsys.readouterr().out
    assert "alphaL population" in printed and "Ramachandran JS, CG vs MD train split" in printed
    assert (out / "populations.png").stat().st_size > 0


def test_the_test_split_is_refused(alanine, tmp_path):
    with pytest.raises(SystemExit):
        peptide_equilibrium.main(["--model", "m.pt", "--data", str(alanine), "--reference-splits", "test",
                                  "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        peptide_equilibrium.main(["--model", "m.pt", "--data", str(alanine), "--split", "test", "--out", str(tmp_path)])


def test_one_step_jumps_from_md_histories(alanine, tmp_path):
    """The MD side is read from the data (the tiny runs never leave beta: no jump); the model side
    counts every sample of every beta window and repeats itself for the same seed."""
    import torch
    from dataclasses import asdict

    from openmm_cgml.nn import ModelConfig, Propagator

    torch.manual_seed(0)
    config = ModelConfig(history_length=2, timestep_ps=2.0, hidden=8, atom_layers=1, dynamics_layers=1, score_layers=1,
                         score_calls=2)
    model = Propagator(config)
    model.set_scales(0.05, 0.05)
    bundle = save_bundle(torch.jit.script(model), tmp_path / "random.pt",
                         {"model_config": asdict(config), "data": {"aligned": True}})
    first = equilibrium.one_step_jumps(bundle, alanine, "validation", every=4, samples=3, seed=5)
    assert first["windows"] > 0 and first["beta_windows"] == first["windows"]  # every frame of these runs is in beta
    assert first["md"] == 0.0 and 0.0 <= first["cg"] <= 1.0 and first["samples_per_window"] == 3
    assert equilibrium.one_step_jumps(bundle, alanine, "validation", every=4, samples=3, seed=5) == first
    with pytest.raises(ValueError, match="not a trained bundle"):
        equilibrium.one_step_jumps(save_bundle(UniformDrift(timestep_ps=2.0), tmp_path / "drift.pt"), alanine)


def test_state_statistics_of_a_two_state_markov_chain():
    """phi hops between a beta and an alphaL cell with probability p per 100 ps frame: every implied
    timescale is -dt / ln(1 - 2p), the populations one half and the beta -> alphaL rate p per frame."""
    rng = np.random.default_rng(3)
    p, dt = 0.05, 100.0
    trajectories = []
    for _ in range(40):
        state = (np.cumsum(rng.random(2000) < p) + rng.integers(2)) % 2
        phi = np.where(state == 0, -2.5, 1.0) + rng.normal(0, 0.05, state.size)
        psi = np.where(state == 0, 2.5, 0.6) + rng.normal(0, 0.05, state.size)
        trajectories.append((phi, psi))
    stats = equilibrium.state_statistics(trajectories, dt)
    assert stats["population_alphaL"] == pytest.approx(0.5, abs=0.03)
    assert stats["rate_beta_to_alphaL_per_ns"] == pytest.approx(1e3 * p / dt, rel=0.05)
    expected_ns = -dt / np.log(1 - 2 * p) / 1e3
    for m in (1, 2, 4):
        assert stats[f"slowest_timescale_lag{m}_ns"] == pytest.approx(expected_ns, rel=0.08)
