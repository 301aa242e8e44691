"""Two-process DistributedDataParallel smoke test (gloo on CPU), launched with torchrun.

Run as a script (``torchrun --nproc_per_node=2 tests/test_ddp.py OUT``), every process trains on
the synthetic chains of test_train.py and writes its final parameters to OUT/rank<r>.pt.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent


def worker(out_dir: Path) -> None:
    sys.path.insert(0, str(HERE))
    from test_train import SMALL, ChainWindows

    from openmm_cgml.nn import ModelConfig
    from openmm_cgml.checkpoint import model_from_checkpoint
    from openmm_cgml.config import TrainConfig
    from openmm_cgml.train import fit

    torch.set_num_threads(1)
    data = ChainWindows(n_chains=2, n_frames=10)
    config = ModelConfig(history_length=3, **SMALL)
    summary = fit(config, TrainConfig(epochs=2, batch_size=3, seed=4), data, data, out_dir, progress=False)
    rank = int(os.environ["RANK"])
    # fit() of every process returns the same model; rank 0 also wrote it to last.pt.
    model, _ = model_from_checkpoint(out_dir / "last.pt") if rank == 0 else (None, None)
    state = {"world": int(os.environ["WORLD_SIZE"]), "best_val": summary["best_val"]}
    torch.save({"params": dict(summary["model"].state_dict()), **state}, out_dir / f"rank{rank}.pt")
    if rank == 0:
        torch.save(model.state_dict(), out_dir / "checkpoint_params.pt")


def test_two_processes_end_with_identical_parameters(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(Path(__file__).resolve()), str(tmp_path)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert ranks[0]["world"] == ranks[1]["world"] == 2
    assert ranks[0]["best_val"] == pytest.approx(ranks[1]["best_val"])  # validation summed over both processes
    saved = torch.load(tmp_path / "checkpoint_params.pt", weights_only=True)
    for name, value in ranks[0]["params"].items():
        assert torch.equal(value, ranks[1]["params"][name]), name
        assert torch.equal(value, saved[name]), name
    assert (tmp_path / "best.pt").exists() and (tmp_path / "metrics.json").exists()


if __name__ == "__main__":
    worker(Path(sys.argv[1]))
