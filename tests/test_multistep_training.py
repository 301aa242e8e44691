"""Training against exposure bias: pushforward windows, the CRPS, the batched sampler, and scoring
the model's own rollouts of one or several steps (``TrainConfig.rollout_steps``), on the synthetic
chains of test_train.py."""
import math

import numpy as np
import pytest
import torch

from openmm_cgml.config import TrainConfig
from openmm_cgml.data import collate
from openmm_cgml.nn import ModelConfig, Propagator
from openmm_cgml.train import fit, measure_scales
from test_train import SMALL, ChainWindows


def one_step_objective(**train):
    """A diffusion-sampler model (seeded) on two synthetic chains, its ``Objective`` with one-step rollouts
    and the given TrainConfig settings (no input noise or truncation), and a batch of 4 windows."""
    from openmm_cgml.train import Objective

    data = ChainWindows(history_length=3, n_chains=2, n_frames=12)
    batch = collate([data[i] for i in range(4)])
    torch.manual_seed(0)
    model = Propagator(ModelConfig(history_length=3, score_calls=3, score_sampler="diffusion", score_sigma_max=2.0,
                                   **SMALL))
    model.set_scales(*measure_scales(data, 100))
    config = TrainConfig(rollout_steps=1, sigma_max=2.0, input_noise=0.0, truncate_prob=0.0, **train)
    return model, Objective(model, config), batch


def test_pushforward_replaces_the_newest_frame_by_the_models_own_sample(tmp_path):
    """Windows of k + 1 frames: without pushforward the model reads the newest k; with it, the newest
    frame of the chosen windows is the model's Gaussian sample from the k frames before it, and a
    pushforward run trains on such windows."""
    from openmm_cgml.train import pushed_forward

    data = ChainWindows(history_length=4, n_chains=2, n_frames=14)
    batch = collate([data[i] for i in range(4)])
    torch.manual_seed(0)
    model = Propagator(ModelConfig(history_length=3, **SMALL)).double()
    model.set_scales(*measure_scales(data, 100))
    embedding = model.embed(batch.atom_features, batch.atom_bonds, batch.bead_of_atom, batch.atom_masses)
    history = batch.history.double()
    kept = pushed_forward(model, embedding, history, batch.bead_bonds, batch.bead_graph, batch.n_graphs, 0.0)
    assert torch.equal(kept, history[1:])
    torch.manual_seed(3)
    pushed = pushed_forward(model, embedding, history, batch.bead_bonds, batch.bead_graph, batch.n_graphs, 1.0)
    assert torch.equal(pushed[:-1], history[1:-1]) and not torch.allclose(pushed[-1], history[-1])
    mean, _, std, _ = model.predict(embedding, history[:-1], batch.bead_bonds, batch.bead_graph)
    z = ((pushed[-1] - mean) / std.unsqueeze(1)).detach()
    assert 0.5 < float(z.std()) < 1.5  # a draw of the model's own Gaussian, not the data's frame
    train = TrainConfig(epochs=2, batch_size=4, pushforward=0.5, input_noise=0.0, truncate_prob=0.0, seed=1)
    summary = fit(ModelConfig(history_length=3, **SMALL), train, data, data, tmp_path, progress=False)
    assert math.isfinite(summary["best_val"])


def test_crps_is_the_ensemble_formula_and_is_lowest_for_the_true_spread():
    from openmm_cgml.rollouts import crps

    a, b, y = torch.tensor([1.0]), torch.tensor([4.0]), torch.tensor([2.0])
    assert float(crps(torch.stack([a, b]), y)) == pytest.approx(0.5 * (1 + 2) - 0.5 * 3)
    torch.manual_seed(0)
    truth = torch.randn(20000)
    scores = {s: float(crps(s * torch.randn(2, 20000), truth).mean()) for s in (0.5, 1.0, 2.0)}
    assert scores[1.0] < scores[0.5] and scores[1.0] < scores[2.0], scores  # too narrow and too wide both cost


def test_batched_sample_is_the_step_for_one_window():
    data = ChainWindows(history_length=3, n_chains=1, n_frames=8)
    w = data[0]
    torch.manual_seed(0)
    model = Propagator(ModelConfig(history_length=3, score_calls=3, **SMALL)).double()
    model.set_scales(*measure_scales(data, 100))
    embedding = model.embed(w.atom_features, w.atom_bonds, w.bead_of_atom, w.atom_masses)
    history = w.history.double()
    torch.manual_seed(5)
    stepped = model.step(embedding, history, w.bead_bonds)
    torch.manual_seed(5)
    sampled = model.sample(embedding, history, w.bead_bonds, torch.zeros(history.shape[1], dtype=torch.long))
    torch.testing.assert_close(sampled, stepped, rtol=0, atol=1e-12)


def test_rollout_training_scores_the_models_own_rollouts(tmp_path):
    """rollout_steps = 3: windows hold k + 2 frames and a target; the rollout score is part of the loss,
    its gradient reaches the weights, and it vanishes with rollout_weight 0 only in the total."""
    from openmm_cgml.train import Objective, batch_losses

    data_config = TrainConfig(rollout_steps=3)
    assert data_config.extra_frames() == 2
    with pytest.raises(ValueError, match="use one of them"):
        TrainConfig.from_dict({"rollout_steps": 2, "pushforward": 0.5})
    data = ChainWindows(history_length=3 + 2, n_chains=2, n_frames=14)
    batch = collate([data[i] for i in range(4)])
    torch.manual_seed(0)
    model = Propagator(ModelConfig(history_length=3, score_calls=2, **SMALL))
    model.set_scales(*measure_scales(data, 100))
    losses = batch_losses(Objective(model, TrainConfig(rollout_steps=3, input_noise=0.0, truncate_prob=0.0)), batch, True)
    assert losses.shape == (8,) and losses[4].item() > 0 and losses[5].item() == 0
    assert losses[0].item() == pytest.approx((losses[1] + losses[2] + losses[4]).item(), rel=1e-5)
    losses[4].backward()
    assert model.dynamics.parameters().__next__().grad is not None
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.score.parameters())
    train = TrainConfig(epochs=1, batch_size=4, rollout_steps=3, seed=1)
    summary = fit(ModelConfig(history_length=3, **SMALL), train, data, data, tmp_path, progress=False)
    assert math.isfinite(summary["best_val"]) and summary["history"][0]["val_rollout"] > 0


def test_one_step_rollout_score_trains_the_diffusion_sampler():
    """rollout_steps = 1: windows keep their length (history and target), the score is the CRPS of the
    sampler's one-step Rg² and MSD, and with the diffusion sampler its gradient reaches the score network."""
    from openmm_cgml.train import batch_losses

    assert TrainConfig(rollout_steps=1).extra_frames() == 0
    model, objective, batch = one_step_objective(rollout_weight=4.0)
    losses = batch_losses(objective, batch, True)
    assert losses[4].item() > 0
    assert losses[0].item() == pytest.approx((losses[1] + losses[2] + 4 * losses[4]).item(), rel=1e-5)
    losses[4].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.score.parameters())


def test_local_rollout_score_scores_bond_lengths_and_angles():
    """rollout_local_weight: the CRPS of the distances of bead pairs one and two CG bonds apart after the
    model's own step is a separate term of the loss, its gradient reaches the score network, and it is
    refused without rollouts."""
    from openmm_cgml.rollouts import local_pairs
    from openmm_cgml.train import batch_losses

    chain = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    assert local_pairs(chain, 5).T.tolist() == [[0, 1], [0, 2], [1, 2], [1, 3], [2, 3], [2, 4], [3, 4]]
    with pytest.raises(ValueError, match="set rollout_steps"):
        TrainConfig.from_dict({"rollout_local_weight": 1.0})
    model, objective, batch = one_step_objective(rollout_weight=0.0, rollout_local_weight=2.0)
    losses = batch_losses(objective, batch, True)
    assert losses[5].item() > 0
    assert losses[0].item() == pytest.approx((losses[1] + losses[2] + 2 * losses[5]).item(), rel=1e-5)
    losses[5].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.score.parameters())


def test_size_drift_scores_the_batch_bias_of_rg2_and_not_the_spread():
    """size_bias/size_drift: zero in expectation for samples that scatter around the data without bias
    however wide, the squared bias over the data's spread for a biased ensemble; steered by a running
    bias, the gradient is 2 · running · ∇(mean bias) and the value unchanged; part of the loss with
    rollout_drift_weight (refused without rollouts), its gradient reaching the score network."""
    from openmm_cgml.rollouts import RunningMean, size_bias, size_drift
    from openmm_cgml.train import batch_losses

    torch.manual_seed(0)
    start = torch.ones(4000, dtype=torch.float64)
    truth = start + 0.1 * torch.randn(1, 4000, dtype=torch.float64)                 # spread 0.1 of Rg²
    for width in (0.05, 0.3):
        unbiased = truth.unsqueeze(0) + width * torch.randn(2, 1, 4000, dtype=torch.float64)
        assert abs(float(size_drift(size_bias(unbiased, truth, start)))) < 0.01
    biased = truth.unsqueeze(0) + 0.05 + 0.1 * torch.randn(3, 1, 4000, dtype=torch.float64)
    assert float(size_drift(size_bias(biased, truth, start))) == pytest.approx((0.05 / 0.1) ** 2, rel=0.1)
    bias = torch.tensor([[0.2, -0.1], [0.4, 0.3]], dtype=torch.float64, requires_grad=True)
    steered = size_drift(bias, torch.tensor([0.5, -1.0], dtype=torch.float64))
    assert float(steered.detach()) == pytest.approx(float(size_drift(bias.detach())))
    steered.backward()
    torch.testing.assert_close(bias.grad, torch.tensor([[0.25, -0.5], [0.25, -0.5]], dtype=torch.float64))
    running = RunningMean(4)
    assert running.update(torch.tensor(2.0)) is None and float(running.update(torch.tensor(0.0))) == 2.0
    assert float(running.value()) == pytest.approx((0.75 * 0.25 * 2.0) / (1 - 0.75 ** 2))
    with pytest.raises(ValueError, match="rollout_drift_weight .* set rollout_steps"):
        TrainConfig.from_dict({"rollout_drift_weight": 1.0})
    with pytest.raises(ValueError, match="rollout_drift_memory"):
        TrainConfig.from_dict({"rollout_steps": 1, "rollout_drift_memory": -1})
    model, objective, batch = one_step_objective(rollout_weight=0.0, rollout_drift_weight=3.0, rollout_drift_memory=10)
    losses = batch_losses(objective, batch, True)
    assert losses.shape == (8,) and losses[6].item() != 0 and objective.size_bias.count == 1
    assert losses[0].item() == pytest.approx((losses[1] + losses[2] + 3 * losses[6]).item(), rel=1e-5)
    losses[6].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.score.parameters())
    model.zero_grad()
    batch_losses(objective, batch, True)[6].backward()                               # steered by the first batch
    assert objective.size_bias.count == 2
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.score.parameters())
    batch_losses(objective, batch, False)
    assert objective.size_bias.count == 2                                            # validation leaves it alone


def test_quantile_gaps_see_a_tail_that_the_crps_barely_sees():
    """quantile_gaps/tail_gap: near zero for samples drawn like the data; for samples of which 2 % are
    moved far below the data's 1 % quantile, the gap at that level is (0.02 + 0.98 · 0.01 − 0.01)
    /√(0.01 · 0.99) (= 0.2), while the per-item CRPS rises by under a quarter (8 % here); steered by
    running gaps the gradient is 2 · running · ∇gaps over the levels; bond_angles matches analysis';
    part of the loss with rollout_tail_weight (refused without rollouts), its gradient
    reaching the score network, and validation leaves the running gaps alone."""
    from openmm_cgml import analysis
    from openmm_cgml.rollouts import TAIL_LEVELS, bond_angles, crps, quantile_gaps, tail_gap
    from openmm_cgml.train import batch_losses

    torch.manual_seed(0)
    n = 100000
    truth = 2.0 + 0.1 * torch.randn(1, n, dtype=torch.float64)
    like = 2.0 + 0.1 * torch.randn(2, 1, n, dtype=torch.float64)
    assert float(quantile_gaps(like, truth, 0.01).abs().max()) < 0.04
    tailed = like.clone()
    tailed[..., torch.rand(n) < 0.02] = 2.0 - 0.3                                  # far below the 1 % quantile (−2.3 sd)
    gaps = quantile_gaps(tailed, truth, 0.01)
    assert gaps[TAIL_LEVELS.index(0.01)] == pytest.approx((0.02 + 0.98 * 0.01 - 0.01) / math.sqrt(0.01 * 0.99), abs=0.03)
    assert float(gaps[TAIL_LEVELS.index(0.5)].abs()) < 0.1
    crps_like, crps_tailed = float(crps(like, truth).mean()), float(crps(tailed, truth).mean())
    assert abs(crps_tailed - crps_like) < 0.25 * crps_like
    assert float(tail_gap(gaps)) > 10 * float(tail_gap(quantile_gaps(like, truth, 0.01)))
    g = torch.tensor([[0.2, -0.1], [0.4, 0.3]], dtype=torch.float64, requires_grad=True)
    steered = tail_gap(g, torch.tensor([[0.5, -1.0], [0.0, 2.0]], dtype=torch.float64))
    assert float(steered.detach()) == pytest.approx(float((g.detach() ** 2).mean()))
    steered.backward()
    torch.testing.assert_close(g.grad, torch.tensor([[0.25, -0.5], [0.0, 1.0]], dtype=torch.float64))
    branched = [(0, 1), (1, 2), (2, 3), (1, 4)]                                      # bead 1 bonded to 0, 2 and 4
    triples = analysis.angle_triples(branched)
    x = torch.randn(5, 3, dtype=torch.float64)
    np.testing.assert_allclose(bond_angles(x, torch.as_tensor(triples).T).numpy(),
                               analysis.bond_angles(x.numpy(), triples)[0], atol=1e-12)
    with pytest.raises(ValueError, match="rollout_tail_weight .* set rollout_steps"):
        TrainConfig.from_dict({"rollout_tail_weight": 1.0})
    with pytest.raises(ValueError, match="rollout_tail_width"):
        TrainConfig.from_dict({"rollout_steps": 1, "rollout_tail_width": 0.0})
    with pytest.raises(ValueError, match="rollout_tail_memory"):
        TrainConfig.from_dict({"rollout_steps": 1, "rollout_tail_memory": -1})
    model, objective, batch = one_step_objective(rollout_weight=0.0, rollout_tail_weight=3.0, rollout_tail_width=0.2,
                                                 rollout_tail_memory=10)
    losses = batch_losses(objective, batch, True)
    assert losses[7].item() > 0 and losses[5].item() == 0 and objective.tail_gaps.count == 1
    assert losses[0].item() == pytest.approx((losses[1] + losses[2] + 3 * losses[7]).item(), rel=1e-5)
    losses[7].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.score.parameters())
    model.zero_grad()
    batch_losses(objective, batch, True)[7].backward()                               # steered by the first batch
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.score.parameters())
    batch_losses(objective, batch, False)
    assert objective.tail_gaps.count == 2


def test_rollout_size_units_weigh_each_chain_by_its_own_size_fluctuations():
    """rollout_size_units "run_spread": the CRPS of each window's Rg² is in units of its run's sd of Rg²
    (``WindowBatch.size_spread``) instead of its start's Rg²: the same score when those units are the
    start's Rg², a larger one for smaller units; refused for unknown units and for windows without it."""
    from openmm_cgml.rollouts import rollout_score, rollout_statistics
    from openmm_cgml.train import Objective, batch_losses

    with pytest.raises(ValueError, match="rollout_size_units"):
        TrainConfig.from_dict({"rollout_size_units": "size"})
    data = ChainWindows(history_length=3 + 2, n_chains=2, n_frames=14)
    batch = collate([data[i] for i in range(4)])
    torch.manual_seed(0)
    model = Propagator(ModelConfig(history_length=3, score_calls=2, **SMALL)).double()
    model.set_scales(*measure_scales(data, 100))
    embedding = model.embed(batch.atom_features, batch.atom_bonds, batch.bead_of_atom, batch.atom_masses)
    history = batch.history.double()
    future = torch.cat([history[3:], batch.target.double().unsqueeze(0)])
    start_rg2 = rollout_statistics(history[2], history[2], batch.bead_graph, batch.n_graphs)[:, 0]

    def window_score(units):
        torch.manual_seed(5)
        with torch.no_grad():
            return float(rollout_score(model, embedding, history[:3], future, batch.bead_bonds, batch.bead_graph,
                                       batch.n_graphs, 2, size_units=units)[0][0])

    assert window_score(start_rg2) == pytest.approx(window_score(None), rel=1e-12)
    assert window_score(start_rg2 / 4) > window_score(None)
    objective = Objective(model, TrainConfig(rollout_steps=3, rollout_size_units="run_spread", input_noise=0.0,
                                             truncate_prob=0.0))
    assert batch.size_spread is None
    with pytest.raises(ValueError, match="size_spread"):
        batch_losses(objective, batch, True)
    batch.size_spread = start_rg2 / 4
    losses = batch_losses(objective, batch, True)
    assert torch.isfinite(losses).all() and losses[4].item() > 0

