import json

import mdtraj
import numpy as np
import pytest

from openmm_cgml import reference
from openmm_cgml.systems import polymers

SETTINGS = reference.RunSettings(production_ps=12.0, save_interval_ps=1.0, equilibration_ps=1.0, seed=3,
                                 platform="Reference", chunk_frames=5)


def test_run_writes_mdtraj_hdf5_with_topology_and_metadata(tmp_path):
    molecule = polymers.build("SHLRS", seed=3)
    path = reference.run(molecule, tmp_path, "chain", SETTINGS)
    trajectory = mdtraj.load(str(path))
    assert trajectory.n_frames == 12 and trajectory.n_atoms == 15
    assert [r.name for r in trajectory.topology.residues] == ["SMA", "HYD", "LAR", "RIG", "SMA"]
    assert trajectory.topology.n_bonds == 14 and np.allclose(trajectory.time, np.arange(1, 13))
    metadata = json.loads((tmp_path / "chain.json").read_text())
    assert metadata["complete"] and metadata["save_interval_steps"] == 50 and metadata["settings"]["seed"] == 3
    assert metadata["forcefield"] == list(polymers.FORCEFIELD) and metadata["temperature_k"] == 300.0
    assert not (tmp_path / "chain.parts").exists()


def test_interrupted_run_leaves_nothing_that_looks_complete_and_resumes(tmp_path):
    molecule = polymers.build("SHLRS", seed=3)
    calls = []

    def interrupt(steps):
        calls.append(steps)
        if len(calls) == 8:  # equilibration, then the seventh frame: inside the second chunk
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reference.run(molecule, tmp_path / "a", "chain", SETTINGS, interrupt)
    assert not reference.is_complete(tmp_path / "a", "chain")
    assert not (tmp_path / "a" / "chain.h5").exists() and (tmp_path / "a" / "chain.parts").is_dir()
    resumed = mdtraj.load(str(reference.run(molecule, tmp_path / "a", "chain", SETTINGS)))
    straight = mdtraj.load(str(reference.run(molecule, tmp_path / "b", "chain", SETTINGS)))
    assert reference.is_complete(tmp_path / "a", "chain")
    # The checkpoint holds the state after the first chunk, random numbers included.
    assert np.allclose(resumed.xyz, straight.xyz, atol=1e-5)


def test_save_interval_must_be_whole_steps(tmp_path):
    with pytest.raises(ValueError, match="save interval"):
        reference.run(polymers.build("SHLR"), tmp_path, "x",
                      reference.RunSettings(production_ps=1.0, save_interval_ps=0.03, platform="Reference"))
    assert not list(tmp_path.glob("x.*"))


def test_cli_runs_only_the_chosen_splits_with_the_whole_datasets_seeds(tmp_path, monkeypatch):
    from openmm_cgml.cli import main, reference as command

    calls = []
    monkeypatch.setattr(command, "generate", lambda jobs, splits, *rest: calls.append((jobs, splits)) or {"wall_seconds": 0})
    assert main(["reference", "polymers", "--standard", "--out", str(tmp_path)]) == 0
    assert main(["reference", "polymers", "--standard", "--splits", "validation", "--out", str(tmp_path)]) == 0
    (all_jobs, all_splits), (jobs, splits) = calls
    assert list(splits) == ["validation"] and splits["validation"] == all_splits["validation"]
    assert len(jobs) == 8 and jobs == [job for job in all_jobs if job.name in all_splits["validation"]]


def test_extra_train_runs_keep_the_validation_and_test_runs(tmp_path, monkeypatch):
    """--extra-train-runs appends train runs after the test runs: the first --runs jobs (names, seeds)
    and the validation and test splits are those of the dataset made without it."""
    from openmm_cgml.cli import main, reference as command
    from openmm_cgml.systems.peptides import shipped_pdb

    calls = []
    monkeypatch.setattr(command, "generate", lambda jobs, splits, *rest: calls.append((jobs, splits)) or {"wall_seconds": 0})
    base = ["reference", "pdb", str(shipped_pdb()), "--runs", "5", "--validation-runs", "1", "--test-runs", "2",
            "--seed", "21", "--out", str(tmp_path)]
    assert main(base) == 0
    assert main(base + ["--extra-train-runs", "3"]) == 0
    (jobs, splits), (more_jobs, more_splits) = calls
    assert more_jobs[:5] == jobs and [job.seed for job in more_jobs[5:]] == [26, 27, 28]
    assert more_splits["validation"] == splits["validation"] and more_splits["test"] == splits["test"] == [
        "alanine-dipeptide-run3", "alanine-dipeptide-run4"]
    assert more_splits["train"] == splits["train"] + [job.name for job in more_jobs[5:]]
    with pytest.raises(SystemExit, match="extra-train-runs"):
        main(base + ["--extra-train-runs", "-1"])


def test_extra_train_sequences_keep_the_standard_chains_and_avoid_the_benchmark(tmp_path, monkeypatch):
    """--extra-train-sequences appends train chains drawn after the standard ones: the standard jobs
    (sequences, seeds) and their validation and test splits are unchanged, and no new chain is one of
    the fidelity benchmark's held-out sequences."""
    from openmm_cgml.cli import main, reference as command

    calls = []
    monkeypatch.setattr(command, "generate", lambda jobs, splits, *rest: calls.append((jobs, splits)) or {"wall_seconds": 0})
    assert main(["reference", "polymers", "--standard", "--out", str(tmp_path)]) == 0
    assert main(["reference", "polymers", "--standard", "--extra-train-sequences", "12", "--out", str(tmp_path)]) == 0
    (jobs, splits), (more_jobs, more_splits) = calls
    assert more_jobs[:48] == jobs and len(more_jobs) == 60
    assert [job.seed for job in more_jobs[48:]] == list(range(2026 + 48, 2026 + 60))  # no benchmark chain among these
    assert more_splits["validation"] == splits["validation"] and more_splits["test"] == splits["test"]
    assert more_splits["train"] == splits["train"] + [job.name for job in more_jobs[48:]]
    held_out = {job.source for job in reference.benchmark_polymer_jobs()[0]}
    assert not held_out & {job.source for job in more_jobs}
    for wrong in (["--extra-train-sequences", "-1"], ["--benchmark", "--extra-train-sequences", "4"]):
        with pytest.raises(SystemExit, match="extra-train-sequences"):
            main(["reference", "polymers", "--standard", "--out", str(tmp_path)][:2] + wrong + ["--out", str(tmp_path)])


def test_polymer_jobs_skip_a_drawn_benchmark_sequence(monkeypatch):
    """A new draw that happens to be a held-out benchmark sequence is skipped and one more is drawn."""
    standard = reference.polymer_jobs(reference.STANDARD_POLYMERS, 3)[0]
    clash = standard[49].source  # pretend the second new chain is a benchmark chain
    monkeypatch.setattr(reference, "benchmark_polymer_jobs", lambda: ([reference.Job("x", "polymer", clash, 0)], {}))
    jobs, splits = reference.polymer_jobs(reference.STANDARD_POLYMERS, 3)
    assert [job.source for job in jobs[48:]] == [standard[48].source, standard[50].source, jobs[50].source]
    assert clash not in splits["train"] and jobs[50].source not in {job.source for job in standard}
    assert [job.seed for job in jobs[48:]] == [2026 + 48, 2026 + 50, 2026 + 51]


def test_a_second_generate_keeps_the_complete_runs_recorded_seconds(tmp_path):
    """Running ``generate`` again over a finished folder (as ``--splits`` and then the whole dataset do)
    skips the complete runs and keeps the seconds they took, which the benchmark's classical speed reads."""
    jobs = [reference.Job("SHLRS-r0", "polymer", "SHLRS", 3)]
    splits = {"train": ["SHLRS-r0"]}
    first = reference.generate(jobs, splits, tmp_path, SETTINGS, processes=1)["runs"]["SHLRS-r0"]["wall_seconds"]
    record = tmp_path / "trajectories" / "SHLRS-r0.json"
    metadata = json.loads(record.read_text())
    assert first >= metadata["wall_seconds_last_session"]  # the job's seconds include its set-up
    record.write_text(json.dumps(dict(metadata, wall_seconds_last_session=123.0)))  # as if the run had taken 2 minutes
    again = reference.generate(jobs, splits, tmp_path, SETTINGS, processes=1)["runs"]["SHLRS-r0"]["wall_seconds"]
    assert again == 123.0
