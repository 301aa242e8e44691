"""benchmarks/rollout_gaps.py: the quantile gaps of a checkpoint's own rollouts, seeded and repeatable."""
import pytest
import torch

from openmm_cgml.config import TrainConfig
from openmm_cgml.nn import ModelConfig
from openmm_cgml.rollouts import TAIL_LEVELS
from openmm_cgml.train import fit
from script_loader import load_script
from test_train import SMALL, ChainWindows


def test_gaps_of_a_trained_checkpoint_are_seeded_and_refuse_too_few_windows(tmp_path):
    data = ChainWindows(history_length=3 + 1, n_chains=2, n_frames=14)
    model = ModelConfig(history_length=3, score_calls=2, score_sampler="diffusion", score_sigma_max=2.0, **SMALL)
    fit(model, TrainConfig(epochs=1, batch_size=4, rollout_steps=2, sigma_max=2.0, seed=1), data, data, tmp_path,
        progress=False)
    script = load_script("benchmarks/rollout_gaps.py")
    first = script.gaps_of(tmp_path / "best.pt", data, batches=2, batch_size=3, width=0.05, seed=4)
    assert first.shape == (2, 2, len(TAIL_LEVELS)) and torch.isfinite(first).all() and first.abs().sum() > 0
    torch.testing.assert_close(script.gaps_of(tmp_path / "best.pt", data, 2, 3, 0.05, seed=4), first, rtol=0, atol=0)
    with pytest.raises(ValueError, match="need 60 windows, the split has 20"):
        script.gaps_of(tmp_path / "best.pt", data, batches=20, batch_size=3, width=0.05, seed=4)
