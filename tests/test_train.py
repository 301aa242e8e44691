"""Training and export: augmentation, losses that fall on a tiny dataset, checkpoints and resume,
configs, the command line, and an exported model stepping inside an OpenMM Context.

``ChainWindows`` (also used by test_ddp.py) is a tiny synthetic dataset:
underdamped Langevin dynamics of harmonic bead-spring chains, two atoms per bead, in OpenMM units.
"""
import json
import math
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from openmm_cgml.data import WindowBatch, collate
from openmm_cgml.nn import ModelConfig, Propagator
from openmm_cgml.checkpoint import load_checkpoint, model_from_checkpoint
from openmm_cgml.config import TrainConfig, load_config
from openmm_cgml.train import augment_history, evaluate, fit, measure_scales

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def chain_trajectory(n_beads: int, n_frames: int, stride: int, seed: int, dt: float = 0.01) -> torch.Tensor:
    """Frames (n_frames, n_beads, 3) nm every ``stride`` steps of Langevin dynamics (BAOAB-like)
    of a chain with harmonic bonds (rest 0.38 nm, 500 kJ/mol/nm²), bead mass 50 amu, 300 K, 0.05/ps
    (weak friction: the motion is mostly deterministic, so a small model can learn it quickly)."""
    g = torch.Generator().manual_seed(seed)
    mass, k_bond, rest, kt, friction = 50.0, 500.0, 0.38, 2.494, 0.05
    x = torch.zeros(n_beads, 3, dtype=torch.float64)
    x[:, 0] = rest * torch.arange(n_beads)
    x += 0.05 * torch.randn(x.shape, generator=g, dtype=torch.float64)
    v = (kt / mass) ** 0.5 * torch.randn(x.shape, generator=g, dtype=torch.float64)
    damp = torch.exp(torch.tensor(-friction * dt, dtype=torch.float64))

    def force(x):
        d = x[1:] - x[:-1]
        r = d.norm(dim=1, keepdim=True)
        f = k_bond * (r - rest) * d / r
        out = torch.zeros_like(x)
        out[:-1] += f
        out[1:] -= f
        return out

    frames = []
    for step in range(n_frames * stride):
        v = v + 0.5 * dt * force(x) / mass
        x = x + 0.5 * dt * v
        v = damp * v + ((1 - damp ** 2) * kt / mass) ** 0.5 * torch.randn(x.shape, generator=g, dtype=torch.float64)
        x = x + 0.5 * dt * v
        v = v + 0.5 * dt * force(x) / mass
        if step % stride == stride - 1:
            frames.append(x.clone())
    return torch.stack(frames)


class ChainWindows(Dataset):
    """Windows of k frames and the next frame from a few synthetic chains (n_graphs = 1 each)."""

    def __init__(self, history_length: int = 3, n_chains: int = 2, n_beads: int = 6, n_frames: int = 24,
                 stride: int = 20, seed: int = 0):
        self.k = history_length
        self.trajectories = [chain_trajectory(n_beads, n_frames, stride, seed + i) for i in range(n_chains)]
        self.n_beads = n_beads
        self.per_chain = n_frames - history_length
        self.metadata = {"timestep_ps": 0.01 * stride, "source": "synthetic Langevin chains",
                         "mapping": {"method": "custom", "atoms_per_bead": 2}}

    def __len__(self) -> int:
        return len(self.trajectories) * self.per_chain

    def __getitem__(self, index: int) -> WindowBatch:
        frames = self.trajectories[index // self.per_chain]
        t = index % self.per_chain
        n, n_atoms = self.n_beads, 2 * self.n_beads
        return WindowBatch(
            atom_features=torch.stack([torch.tensor([6, 1] * n), torch.tensor([2] * n_atoms)], 1),
            atom_bonds=torch.stack([torch.arange(n_atoms - 1), torch.arange(1, n_atoms)]),
            bead_of_atom=torch.arange(n_atoms) // 2,
            atom_masses=torch.tensor([12.0, 1.0] * n, dtype=torch.float64),
            bead_bonds=torch.stack([torch.arange(n - 1), torch.arange(1, n)]),
            bead_graph=torch.zeros(n, dtype=torch.long),
            history=frames[t:t + self.k],
            target=frames[t + self.k],
            n_graphs=1,
        )


pytestmark = pytest.mark.usefixtures("one_torch_thread")


SMALL = dict(hidden=16, atom_layers=1, dynamics_layers=2, score_layers=1, cutoff_nm=0.8, n_basis=8)


def test_truncation_copies_first_kept_frame():
    k, n = 4, 5
    history = torch.arange(k, dtype=torch.float64)[:, None, None].expand(k, n, 3).clone()
    torch.manual_seed(0)
    out = augment_history(history, torch.tensor([0, 0, 1, 1, 1]), 2, truncate_prob=1.0, noise_nm=0.0)
    for beads in ([0, 1], [2, 3, 4]):
        frames = out[:, beads, 0]
        assert bool((frames == frames[:, :1]).all())  # a window is cut at one place for all its beads
        first = int(frames[0, 0])
        assert frames[:, 0].tolist() == [max(i, first) for i in range(k)]
    assert torch.equal(augment_history(history, torch.zeros(n, dtype=torch.long), 1, 0.0, 0.0), history)


def test_windows_collate_and_scales():
    data = ChainWindows()
    batch = collate([data[0], data[len(data) - 1]])
    assert batch.n_graphs == 2 and batch.history.shape == (3, 12, 3)
    displacement, acceleration = measure_scales(data, 100)
    assert 0.005 < displacement < 0.2 and 0.005 < acceleration < 0.2


def test_losses_fall_when_overfitting_tiny_dataset(tmp_path):
    data = ChainWindows(n_chains=2, n_frames=12)
    train = TrainConfig(epochs=25, batch_size=6, lr=3e-3, sigma_min=0.3, sigma_max=3.0, input_noise=0.0,
                        truncate_prob=0.0, seed=1)
    config = ModelConfig(history_length=3, score_sigma_max=2.0, score_sigma_min=0.5, **SMALL)
    torch.manual_seed(train.seed)
    initial = Propagator(config)
    initial.set_scales(*measure_scales(data, 100))
    before = evaluate(initial, data, train)
    summary = fit(config, train, data, data, tmp_path, progress=False)
    model, state = model_from_checkpoint(tmp_path / "best.pt")
    after = evaluate(model, data, train)
    assert after["mse"] < 0.5 * before["mse"], (before, after)
    assert after["dsm"] < 0.5 * before["dsm"], (before, after)
    assert after["nll"] < before["nll"] - 0.3, (before, after)
    assert summary["best_val"] == pytest.approx(after["loss"], rel=1e-6)
    assert state["data"]["source"] == "synthetic Langevin chains" and state["data"]["train_windows"] == len(data)


def test_checkpoint_resume_continues_the_run(tmp_path):
    data = ChainWindows(n_chains=1, n_frames=10)
    config = ModelConfig(history_length=3, **SMALL)
    train = TrainConfig(epochs=2, batch_size=4, seed=3)
    fit(config, train, data, data, tmp_path / "full", progress=False)
    fit(config, train, data, data, tmp_path / "half", progress=False, stop_after=1)
    assert load_checkpoint(tmp_path / "half" / "last.pt")["epoch"] == 1
    fit(config, train, data, data, tmp_path / "half", resume=tmp_path / "half" / "last.pt", progress=False)
    full, half = load_checkpoint(tmp_path / "full" / "last.pt"), load_checkpoint(tmp_path / "half" / "last.pt")
    assert half["epoch"] == 2 and len(half["history"]) == 2
    assert half["scheduler"]["last_epoch"] == full["scheduler"]["last_epoch"]
    for name, value in full["model"].items():
        assert torch.allclose(half["model"][name], value, atol=1e-6), name
    # Only tensors, numbers and strings inside: loadable without pickle.
    torch.load(tmp_path / "full" / "best.pt", weights_only=True)


@pytest.mark.parametrize("path", sorted(set(CONFIGS.glob("*.json")) - set(CONFIGS.glob("forcefield-*.json"))),
                         ids=lambda path: path.stem)
def test_shipped_configs_load_and_build(path):
    model_config, train_config = load_config(path)
    assert model_config.timestep_ps == train_config.cg_step_ps
    ladder = model_config.sigma_ladder()
    assert 1 <= len(ladder) <= (80 if model_config.score_sampler == "diffusion" else 10)  # generating takes more calls
    assert train_config.sigma_min <= min(ladder) and max(ladder) <= train_config.sigma_max
    Propagator(model_config)


def test_noise_levels_tilt_towards_sigma_max():
    """Log-uniform without a tilt (the median at the middle of the log range); with sigma_tilt t the
    position in the log range has density (1 + t) u^t, so its median is 0.5^(1 / (1 + t))."""
    from openmm_cgml.train import noise_levels

    torch.manual_seed(0)
    for tilt, median in ((0.0, 0.5), (2.0, 0.5 ** (1 / 3))):
        config = TrainConfig(sigma_min=0.02, sigma_max=10.0, sigma_tilt=tilt)
        levels = noise_levels(config, 20000)
        assert levels.min() >= 0.02 and levels.max() <= 10.0
        position = torch.log(levels / 0.02) / math.log(10.0 / 0.02)
        assert float(position.median()) == pytest.approx(median, abs=0.01)
    with pytest.raises(ValueError, match="sigma_tilt must be at least 0"):
        TrainConfig.from_dict({"sigma_tilt": -1.0})


def test_config_rejects_unknown_settings(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"model": {"hiden": 3}}))
    with pytest.raises(ValueError, match="unknown settings"):
        load_config(path)


# ----------------------------------------------------------------------------------------- export

@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("trained")
    data = ChainWindows(history_length=3, n_chains=1, n_frames=10)
    fit(ModelConfig(history_length=3, timestep_ps=0.2, **SMALL), TrainConfig(epochs=2, batch_size=4), data, data, out,
        progress=False)
    return out / "best.pt"


def test_export_writes_checked_bundle_with_metadata(trained_checkpoint, tmp_path):
    from openmm_cgml import contract
    from openmm_cgml.bundle import check_bundle, load_bundle
    from openmm_cgml.export import export_checkpoint
    from openmm_cgml.features import ATOM_FEATURES
    from openmm_cgml.train import METRICS

    path = export_checkpoint(trained_checkpoint, tmp_path / "model.pt", {"note": "test"})
    module, metadata = load_bundle(path)
    assert (module.history_length, module.timestep_ps) == (3, 0.2)
    assert metadata["format"] == contract.BUNDLE_FORMAT == "openmm-cgml-bundle-2" and metadata["note"] == "test"
    assert metadata["atom_features"] == list(ATOM_FEATURES) and metadata["score_calls"] == 3
    assert metadata["mapping"] == {"method": "custom", "atoms_per_bead": 2}
    assert metadata["data"]["train_windows"] == 7 and set(metadata["validation"]) == set(METRICS)
    assert len(metadata["score_sigmas_nm"]) == 3 and len(metadata["weights_sha256"]) == 64
    assert 0 < metadata["training_range"]["closest_pair_nm"] < metadata["training_range"]["bond_length_nm"][1]
    assert set(metadata) - {"note"} == set(contract.METADATA_KEYS)  # the keys the contract names, no others
    check_bundle(path)
    # A bundle is a starting point for fine-tuning (cgml train --init-from): the checkpoint's weights.
    from openmm_cgml.train import initial_weights
    state = load_checkpoint(trained_checkpoint)["model"]
    from_bundle = initial_weights(path)
    assert set(from_bundle) == set(state) and all(torch.equal(from_bundle[k], state[k]) for k in state)
    # A bundle whose weights were changed after export is refused.
    for parameter in module.parameters():
        parameter.data.add_(1.0)
        break
    from openmm_cgml.bundle import save_bundle
    save_bundle(module, tmp_path / "tampered.pt", metadata)
    with pytest.raises(ValueError, match="SHA-256"):
        check_bundle(tmp_path / "tampered.pt")


def test_exported_model_runs_in_openmm_context(trained_checkpoint, tmp_path, platform):
    import numpy as np
    import openmm
    import openmm.unit as unit

    from openmm_cgml import CGMLIntegrator
    from openmm_cgml.export import export_checkpoint

    path = export_checkpoint(trained_checkpoint, tmp_path / "model.pt")
    data = ChainWindows(n_chains=1, n_frames=4)
    window = data[0]
    system = openmm.System()
    for mass in window.atom_masses.tolist():
        system.addParticle(mass)
    integrator = CGMLIntegrator(str(path), 0.2 * unit.picoseconds)
    integrator.setBeadAssignment(window.bead_of_atom.tolist())
    integrator.setAtomFeatures(window.atom_features.tolist())
    integrator.setAtomBonds([tuple(b) for b in window.atom_bonds.t().tolist()])
    integrator.setRandomNumberSeed(5)
    context = openmm.Context(system, integrator, platform)
    atoms = window.history[-1][window.bead_of_atom] + torch.tensor([0.05, 0.0, 0.0], dtype=torch.float64) * (
        torch.arange(len(window.atom_masses)) % 2)[:, None]
    context.setPositions(atoms.numpy())
    integrator.step(100)
    state = context.getState(getPositions=True, getVelocities=True)
    x = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    assert np.isfinite(x).all() and np.isfinite(state.getVelocities(asNumpy=True)._value).all()
    assert not np.allclose(x, atoms.numpy())
    assert state.getTime().value_in_unit(unit.picosecond) == pytest.approx(20.0)


def test_command_line_trains_on_the_sample_dataset_and_exports(tmp_path):
    """`cgml train` and `cgml export` on the shipped polymer sample (real reference runs)."""
    from openmm_cgml.bundle import load_bundle
    from openmm_cgml.cli import main

    sample = Path(__file__).parent / "data" / "polymers-sample"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": {"history_length": 2, **SMALL},
                                  "train": {"epochs": 1, "cg_step_ps": 10.0, "mapping": "residue"}}))
    assert main(["train", str(sample), "--config", str(config), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    assert main(["export", str(tmp_path / "run" / "best.pt"), "--out", str(tmp_path / "model.pt"), "--data", str(sample),
                 "--verdict-steps", "10", "--platform", "CPU"]) == 0
    module, metadata = load_bundle(tmp_path / "model.pt")
    # --seed: another training run of the same recipe (other initial weights), recorded in the bundle.
    assert main(["train", str(sample), "--config", str(config), "--out", str(tmp_path / "run7"), "--no-progress",
                 "--seed", "7"]) == 0
    assert main(["export", str(tmp_path / "run7" / "best.pt"), "--out", str(tmp_path / "model7.pt")]) == 0
    seeded = load_bundle(tmp_path / "model7.pt")[1]
    assert seeded["training"]["train_config"]["seed"] == 7 and metadata["training"]["train_config"]["seed"] == 0
    assert "--seed 7" in seeded["training"]["command"]
    assert seeded["weights_sha256"] != metadata["weights_sha256"]
    assert module.timestep_ps == pytest.approx(10.0)  # the dataset's CG step wins over the config's
    assert metadata["history_length"] == 2 and "residue" in json.dumps(metadata)
    # The card's facts: the command that trained it and the seconds its epochs took.
    assert metadata["training"]["command"] == f"cgml train {sample} --config {config} --out {tmp_path / 'run'} --device cpu --no-progress"
    assert metadata["training"]["epoch_seconds"] > 0 and "train_command" not in metadata["data"]
    # The verdict: a rollout from the validation run's start, against that run (one epoch: judged, not trusted).
    verdict = metadata["verdict"]
    assert verdict["line"].startswith("verdict: usable" if verdict["usable"] else "verdict: NOT usable: ")
    assert verdict["figures"]["steps"] == 10 and verdict["split"] == "validation"
    assert verdict["figures"]["rg_mean_nm"]["md"] > 0 and verdict["figures"]["bond_js_bits"] >= 0
    # More steps than the runs allow (as 1 ns steps against 5 ns runs): rolled out as asked and judged
    # against every classical frame.  The sample's validation run holds 100 frames 2 ps apart, 9 steps
    # of the shipped polymer model's 20 ps.  The one-epoch model does not last that long: the
    # integrator refuses its NaN step, and the verdict says so instead of failing.
    from openmm_cgml.bundle import shipped_model
    from openmm_cgml.verdict import MIN_STEPS, judge

    long = judge(shipped_model("polymer"), sample, steps=MIN_STEPS, platform="CPU")
    assert long["figures"]["steps"] == MIN_STEPS and long["figures"]["finite"] and long["figures"]["rg_mean_nm"]["md"] > 0
    broken = judge(tmp_path / "model.pt", sample, steps=MIN_STEPS, platform="CPU")
    assert broken["line"].startswith("verdict: NOT usable: positions became NaN or infinite") and not broken["usable"]
    # A bundle exported before the training range was recorded gets the range training measured.
    from openmm_cgml.bundle import save_bundle
    from openmm_cgml.export import record_training_range

    old = dict(metadata, training_range=None)
    save_bundle(module, tmp_path / "old.pt", old)
    record_training_range(tmp_path / "old.pt", sample)
    measured, trained = load_bundle(tmp_path / "old.pt")[1]["training_range"], metadata["training_range"]
    assert measured["closest_pair_nm"] == pytest.approx(trained["closest_pair_nm"], rel=1e-12)
    assert measured["bond_length_nm"] == pytest.approx(trained["bond_length_nm"], rel=1e-12)
    with pytest.raises(ValueError, match="was trained on runs"):
        save_bundle(module, tmp_path / "other.pt", dict(old, data=dict(old["data"], runs=["X"])))
        record_training_range(tmp_path / "other.pt", sample)


def test_nproc_relaunches_under_torchrun(monkeypatch, tmp_path):
    import argparse
    import sys

    from openmm_cgml.cli import train

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    launched = []
    monkeypatch.setattr(train.subprocess, "call", lambda command: launched.append(command) or 0)
    parser = argparse.ArgumentParser()
    train.add_parser(parser.add_subparsers())
    args = parser.parse_args(["train", "DATA", "--config", "c.json", "--nproc", "2", "--epochs", "3", "--resume", "r.pt"])
    assert train.run(args) == 0
    assert launched == [[sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                         "-m", "openmm_cgml.cli", "train", "DATA", "--config", "c.json", "--out", "out/train",
                         "--device", "cpu", "--resume", "r.pt", "--epochs", "3"]]


def test_training_range_is_what_the_target_frames_cover():
    """Closest non-bonded bead pair and bead bond lengths over the target frames, checked by brute force."""
    from openmm_cgml.train import measure_training_range

    windows = ChainWindows()
    closest, lengths = float("inf"), []
    for i in range(len(windows)):
        w = windows[i]
        d = torch.cdist(w.target, w.target)
        for a in range(windows.n_beads):
            for b in range(a + 1, windows.n_beads):
                if b == a + 1:
                    lengths.append(float(d[a, b]))
                else:
                    closest = min(closest, float(d[a, b]))
    found = measure_training_range(windows)
    assert found["closest_pair_nm"] == pytest.approx(closest, rel=1e-12)
    assert found["bond_length_nm"] == pytest.approx([min(lengths), max(lengths)], rel=1e-12)
    assert found["windows"] == len(windows)


def test_verdict_names_every_limit_it_fails():
    from openmm_cgml.verdict import _reasons

    good = {"finite": True, "rg_mean_nm": {"cg": 1.02, "md": 1.0}, "rg_std_nm": {"cg": 0.1, "md": 0.1},
            "bond_js_bits": 0.05, "pair_js_bits": 0.05, "close_contact_ratio": 1.0, "frames_below_training_closest": 0}
    assert _reasons(good) == []
    bad = dict(good, rg_mean_nm={"cg": 1.3, "md": 1.0}, rg_std_nm={"cg": 0.01, "md": 0.1}, bond_js_bits=0.5,
               close_contact_ratio=12.0, frames_below_training_closest=3)
    reasons = _reasons(bad)
    assert reasons == ["mean Rg +30% off the classical runs (limit ±10%)", "Rg spread 0.10x the classical runs' (limits 0.5-2.0x)",
                       "JS of bond lengths 0.50 bits (limit 0.2)", "12.0x the expected close contacts (limit 5.0x)",
                       "3 frames with beads closer than in any training frame"]
    assert _reasons(dict(good, finite=False)) == ["positions became NaN or infinite"]
