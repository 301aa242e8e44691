import shutil
from pathlib import Path

import pytest
import torch

from openmm_cgml import data, reference
from openmm_cgml.systems import polymers

SAMPLE = Path(__file__).parent / "data" / "polymers-sample"


def test_sample_splits_are_by_sequence():
    splits = {name: [t.name for t in data.load_split(SAMPLE, name)] for name in ("train", "validation", "test")}
    assert len(splits["train"]) == 4 and len(splits["validation"]) == 1 and len(splits["test"]) == 1
    assert len(set(sum(splits.values(), []))) == 6


@pytest.mark.parametrize("k, cg_step_ps", [(1, 2.0), (3, 6.0)])
def test_window_shapes_and_strides(k, cg_step_ps):
    runs = data.load_split(SAMPLE, "train", "graclus:3")
    windows = data.Windows(runs, k, cg_step_ps)
    stride = int(cg_step_ps / 2.0)
    frames = runs[0].centres.shape[0]
    assert frames == 100 and len(windows) == sum(r.centres.shape[0] - k * stride for r in runs)
    window = windows[5]
    n_beads = runs[0].mapping.n_beads
    assert window.history.shape == (k, n_beads, 3) and window.target.shape == (n_beads, 3)
    assert window.history.dtype == torch.float64 and window.n_graphs == 1
    for i in range(k):
        assert torch.equal(window.history[i], runs[0].centres[5 + i * stride])
    assert torch.equal(window.target, runs[0].centres[5 + k * stride])
    last = windows[len(windows) - 1]
    assert torch.equal(last.target, runs[-1].centres[-1])
    batch = data.collate([windows[0], windows[len(windows) - 1], windows[3]])
    assert batch.n_graphs == 3 and batch.history.shape[1] == batch.n_beads == batch.target.shape[0]
    assert int(batch.bead_of_atom.max()) + 1 == batch.n_beads and batch.bead_graph.tolist().count(2) == n_beads


def test_windows_carry_their_runs_size_spread():
    """Each window carries the sd of Rg² over the second half of its run (the chain's own scale of size
    fluctuations, for TrainConfig.rollout_size_units), and a batch one per window."""
    runs = data.load_split(SAMPLE, "train")
    windows = data.Windows(runs, 2, 4.0)
    for run in runs[:2]:
        x = run.centres[50:]
        rg2 = ((x - x.mean(1, keepdim=True)) ** 2).sum(-1).mean(1)
        assert run.size_spread == pytest.approx(float(rg2.std()), rel=1e-12) and run.size_spread > 0
    last = windows[len(windows) - 1]
    assert last.size_spread.tolist() == [runs[-1].size_spread]
    batch = data.collate([windows[0], last])
    assert batch.size_spread.tolist() == [runs[0].size_spread, runs[-1].size_spread]
    assert runs[0].size_spread != runs[-1].size_spread


def _rotation(seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)))
    return q * torch.sign(torch.linalg.det(q))  # a proper rotation


def test_superpose_undoes_a_rigid_motion_and_never_reflects():
    reference = torch.randn(12, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    moved = torch.stack([reference @ _rotation(s).T + torch.tensor([0.3 * s, -1.0, 2.0], dtype=torch.float64)
                         for s in range(3)])
    assert torch.allclose(data.superpose(moved, reference), reference.expand(3, 12, 3), atol=1e-12)
    mirror = reference * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)  # a reflection is not a rigid motion
    back = data.superpose(mirror.unsqueeze(0), reference)[0]
    assert float((back - reference).norm(dim=1).max()) > 0.1
    assert torch.allclose(torch.cdist(back, back), torch.cdist(mirror, mirror), atol=1e-12)  # shape kept


def test_aligned_windows_keep_internal_motion_and_drop_tumbling():
    runs = data.load_split(SAMPLE, "train", "graclus:3")
    plain, aligned = data.Windows(runs, 3, 4.0), data.Windows(runs, 3, 4.0, align=True)
    assert aligned.metadata["aligned"] and not plain.metadata["aligned"]
    w, a = plain[7], aligned[7]
    assert torch.equal(a.history[-1], w.history[-1])  # the newest frame is the reference
    for frame, kept in zip([*w.history[:-1], w.target], [*a.history[:-1], a.target]):
        assert torch.allclose(torch.cdist(kept, kept), torch.cdist(frame, frame), atol=1e-10)  # same shape
        rmsd = lambda x: float((x - w.history[-1]).pow(2).sum(1).mean().sqrt())
        assert rmsd(kept) <= rmsd(frame) + 1e-12  # no farther from the newest frame than before
        assert torch.allclose(data.superpose(kept.unsqueeze(0), w.history[-1])[0], kept, atol=1e-10)  # already aligned


def test_cg_step_must_be_a_multiple_of_the_save_interval():
    with pytest.raises(ValueError, match=r"CG step \(3.0 ps\) is not a whole multiple of the save interval \(2.0 ps\)"):
        data.Windows(data.load_split(SAMPLE, "validation"), 2, 3.0)


def test_trajectory_whose_atom_count_does_not_match_its_system(tmp_path):
    name = data.load_split(SAMPLE, "test")[0].name
    for suffix in (".h5", ".json"):
        shutil.copy(SAMPLE / "trajectories" / f"{name}{suffix}", tmp_path / f"{name}{suffix}")
    other = polymers.build("SHLR")
    (tmp_path / f"{name}.system.xml").write_text(__import__("openmm").XmlSerializer.serialize(other.system))
    with pytest.raises(ValueError, match=r"has 36 atoms but its System .* has 12 particles"):
        data.load_trajectory(tmp_path / f"{name}.h5")


def test_incomplete_dataset_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a complete dataset"):
        data.load_split(tmp_path, "train")
    assert reference.DATASET_FILE == "dataset.json"


def test_describe_reports_each_run_and_the_spread(tmp_path):
    from openmm_cgml.cli import main

    assert main(["describe", str(SAMPLE), "--json", str(tmp_path / "d.json")]) == 0
    report = __import__("json").loads((tmp_path / "d.json").read_text())
    train = report["splits"]["train"]
    assert len(train["runs"]) == 4 and all(0.5 < r["rg_nm"] < 2.0 and r["n_frames"] == 100 for r in train["runs"])
    assert train["range"]["rg_nm"][0] == min(r["rg_nm"] for r in train["runs"])
