"""Training the propagator end to end: Gaussian NLL of the acceleration plus denoising score matching.

One optimiser (Adam, cosine schedule, gradient clipping) over the embedding, dynamics and score
networks.  Data are ``torch.utils.data.Dataset``s of single-window ``data.WindowBatch`` items,
batched with ``data.collate``; with several processes (``torchrun --nproc_per_node=N -m
openmm_cgml.cli train ...`` or ``cgml train --nproc N``) it runs DistributedDataParallel (gloo on CPU,
NCCL on GPU).  Settings are ``config.TrainConfig``; checkpoints are written by ``checkpoint``.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Optional

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from .bundle import is_bundle, load_bundle
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig, check_noise_ladder
from .data import WindowBatch, collate, load_windows
from .nn import ModelConfig, Propagator
from .nn.neighbors import bond_keys
from .rollouts import RunningMean, rollout_score, size_drift, tail_gap
METRICS = ("loss", "nll", "dsm", "mse", "rollout", "local", "drift", "tail")


# ---------------------------------------------------------------------------------------- losses

def measure_scales(dataset: Dataset, n_windows: int) -> tuple[float, float]:
    """RMS displacement (x_{t+1} − x_t) and acceleration (x_{t+1} − 2x_t + x_{t−1}) per component, nm,
    over the first ``n_windows`` windows (the same windows on every process)."""
    displacement, acceleration, count = 0.0, 0.0, 0
    for i in range(min(len(dataset), n_windows)):
        w = dataset[i]
        x = w.history[-1]
        step = w.target - x
        accel = step - (x - w.history[-2]) if w.history.shape[0] > 1 else step
        displacement += float((step ** 2).sum())
        acceleration += float((accel ** 2).sum())
        count += step.numel()
    if count == 0:
        raise ValueError("measure_scales: the training set is empty")
    return max(math.sqrt(displacement / count), 1e-6), max(math.sqrt(acceleration / count), 1e-6)


def measure_training_range(dataset: Dataset, max_windows: int = 20000) -> dict:
    """What the training frames cover, for the integrator's CheckTrainingRange: the closest non-bonded
    bead pair and the shortest and longest bead bond (nm), over the target frames of up to
    ``max_windows`` windows spread over the whole set."""
    n = len(dataset)
    if n == 0:
        raise ValueError("measure_training_range: the training set is empty")
    closest, shortest, longest = math.inf, math.inf, 0.0
    for i in sorted({int(j) for j in torch.linspace(0, n - 1, min(n, max_windows))}):
        w = dataset[i]
        x = w.target.to(torch.float64)
        distance = torch.cdist(x, x)
        i_bond, j_bond = w.bead_bonds[0], w.bead_bonds[1]
        if i_bond.numel():
            lengths = distance[i_bond, j_bond]
            shortest, longest = min(shortest, float(lengths.min())), max(longest, float(lengths.max()))
        distance.fill_diagonal_(math.inf)
        distance[i_bond, j_bond] = math.inf
        distance[j_bond, i_bond] = math.inf
        closest = min(closest, float(distance.min()))
    result = {"closest_pair_nm": closest, "windows": min(n, max_windows)}
    if longest > 0:
        result["bond_length_nm"] = [shortest, longest]
    return result


def augment_history(history: Tensor, bead_graph: Tensor, n_graphs: int, truncate_prob: float,
                    noise_nm: float) -> Tensor:
    """Cut the history of some windows short (the oldest frames replaced by copies of the first frame
    kept, as the integrator does after setPositions) and add Gaussian noise to every frame."""
    k = history.shape[0]
    if k > 1 and truncate_prob > 0:
        kept = torch.randint(1, k + 1, (n_graphs,), device=history.device)
        kept = torch.where(torch.rand(n_graphs, device=history.device) < truncate_prob, kept, torch.full_like(kept, k))
        first = (k - kept)[bead_graph]                                   # (n_beads,)
        frame = torch.maximum(torch.arange(k, device=history.device).unsqueeze(1), first.unsqueeze(0))
        history = history.gather(0, frame.unsqueeze(-1).expand(-1, -1, 3))
    if noise_nm > 0:
        history = history + noise_nm * torch.randn_like(history)
    return history


def pushed_forward(model: Propagator, embedding: Tensor, history: Tensor, bead_bonds: Tensor, bead_graph: Tensor,
                   n_graphs: int, probability: float) -> Tensor:
    """The model's k-frame history from windows of k + 1 frames: the newest k, where in a
    ``probability`` share of the windows the newest frame is replaced by the model's own Gaussian
    sample (``Propagator.gaussian_sample``, no refinement) drawn without gradient from the k frames before it
    (the pushforward trick: the network learns from histories like those of its own rollouts)."""
    if probability <= 0:
        return history[1:]
    with torch.no_grad():
        mean, _, std, _ = model.predict(embedding, history[:-1], bead_bonds, bead_graph)
        sample = model.gaussian_sample(mean, std, bond_keys(bead_bonds, mean.shape[0]), None)
        chosen = (torch.rand(n_graphs, device=mean.device) < probability)[bead_graph].unsqueeze(1)
        newest = torch.where(chosen, sample, history[-1])
    return torch.cat([history[1:-1], newest.unsqueeze(0)])


class Objective(nn.Module):
    """The training loss of a Propagator on one batch (the module DDP wraps)."""

    def __init__(self, model: Propagator, config: TrainConfig):
        super().__init__()
        self.model = model
        self.config = config
        # The size bias over earlier training batches (TrainConfig.rollout_drift_memory), per process.
        self.size_bias = RunningMean(config.rollout_drift_memory) if config.rollout_drift_memory > 0 else None
        # The quantile gaps of the local structure over earlier batches (TrainConfig.rollout_tail_memory).
        self.tail_gaps = RunningMean(config.rollout_tail_memory) if config.rollout_tail_memory > 0 else None

    def forward(self, atom_features: Tensor, atom_bonds: Tensor, bead_of_atom: Tensor, atom_masses: Tensor,
                bead_bonds: Tensor, bead_graph: Tensor, history: Tensor, target: Tensor, n_graphs: int,
                augment: bool, size_spread: Optional[Tensor] = None) -> Tensor:
        """Returns [loss, nll, dsm, mse, rollout, local, drift, tail] (nll per bead and axis, dsm and mse per
        axis, the rollout scores per window and step, per bonded pair and step, of the batch's size and of
        the local structure's quantile gaps, ``rollout_score``; dimensionless)."""
        c, m = self.config, self.model
        scale = float(m.dynamics.displacement_scale)
        accel_scale = m.dynamics.acceleration_scale
        embedding = m.embed(atom_features, atom_bonds, bead_of_atom, atom_masses)
        rollout = torch.zeros(4, dtype=torch.float64, device=target.device)
        k = m.history_length
        if c.rollout_steps > 0 and history.shape[0] == k + c.rollout_steps - 1:
            future = torch.cat([history[k:], target.unsqueeze(0)])
            history, target = history[:k], future[0]
            if c.rollout_weight > 0 or c.rollout_local_weight > 0 or c.rollout_drift_weight > 0 or c.rollout_tail_weight > 0:
                if c.rollout_size_units == "run_spread" and size_spread is None:
                    raise ValueError("rollout_size_units 'run_spread' needs windows that carry their run's size_spread")
                scores, bias, gaps = rollout_score(
                    m, embedding, history, future, bead_bonds, bead_graph, n_graphs, c.rollout_samples,
                    local=c.rollout_local_weight > 0,
                    size_units=size_spread if c.rollout_size_units == "run_spread" else None,
                    tail_width=c.rollout_tail_width if c.rollout_tail_weight > 0 else 0.0)
                running = self.size_bias.update(bias.mean(0)) if augment and self.size_bias is not None else None
                running_gaps = self.tail_gaps.update(gaps) if augment and self.tail_gaps is not None else None
                rollout = torch.cat([scores, size_drift(bias, running).to(scores.dtype).unsqueeze(0),
                                     tail_gap(gaps, running_gaps).to(scores.dtype).unsqueeze(0)])
        if history.shape[0] == m.history_length + 1:  # windows of a pushforward run hold one frame more
            history = pushed_forward(m, embedding, history, bead_bonds, bead_graph, n_graphs,
                                     c.pushforward if augment else 0.0)
        if augment:
            history = augment_history(history, bead_graph, n_graphs, c.truncate_prob, c.input_noise * scale)
        mean, acceleration, std, latent = m.predict(embedding, history, bead_bonds, bead_graph)
        x = history[-1]
        # The acceleration the prediction should have had, relative to the (augmented) history.
        residual = ((target - mean).to(std.dtype)) / accel_scale
        sd = std / accel_scale
        if m.noise.degree == 0:
            nll = (0.5 * (residual ** 2).sum(1) / sd ** 2 + 3 * torch.log(sd)).mean() / 3 + 0.5 * math.log(2 * math.pi)
        else:  # the exact density of the coupled noise (nn.noise), per bead and axis
            quadratic, log_det = m.noise.whitened(residual / sd.unsqueeze(1), bead_bonds, bead_graph, n_graphs)
            n = residual.shape[0]
            nll = (0.5 * quadratic + 3 * torch.log(sd).sum() + 3 * log_det) / (3 * n) + 0.5 * math.log(2 * math.pi)
        mse = (residual ** 2).mean()
        # Denoising score matching on the target positions, one noise level per window.
        sigma = (scale * noise_levels(c, n_graphs, target.dtype, target.device))[bead_graph]
        eps = torch.randn_like(target)
        noisy = target + sigma.unsqueeze(1) * eps
        score = m.score_at(noisy, sigma, x, mean, std, latent, bead_bonds, bead_graph)
        s = sigma.to(score.dtype).unsqueeze(1)
        dsm = ((s * score + eps.to(score.dtype)) ** 2).mean()
        rollout, local, drift, tail = rollout.to(nll.dtype).unbind()
        loss = (nll + c.score_weight * dsm + c.rollout_weight * rollout + c.rollout_local_weight * local
                + c.rollout_drift_weight * drift + c.rollout_tail_weight * tail)
        return torch.stack([loss, nll, dsm, mse, rollout, local, drift, tail])


def noise_levels(c: TrainConfig, n: int, dtype=torch.float64, device=None) -> Tensor:
    """``n`` noise levels of score matching (displacement units) in [sigma_min, sigma_max]: log σ at the
    position u^(1 / (1 + sigma_tilt)) of the log range, u uniform (log-uniform when the tilt is 0)."""
    u = torch.rand(n, dtype=dtype, device=device) ** (1.0 / (1.0 + c.sigma_tilt))
    return torch.exp(math.log(c.sigma_min) + u * math.log(c.sigma_max / c.sigma_min))


def batch_losses(objective: nn.Module, batch: WindowBatch, augment: bool) -> Tensor:
    return objective(batch.atom_features, batch.atom_bonds, batch.bead_of_atom, batch.atom_masses, batch.bead_bonds,
                     batch.bead_graph, batch.history, batch.target, batch.n_graphs, augment, batch.size_spread)


# -------------------------------------------------------------------------------------- training

def _distributed(device: str) -> tuple[int, int, bool]:
    """(rank, world size, whether this call initialised the process group) from torchrun's env;
    NCCL when training on GPUs, gloo on CPUs."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        if not device.startswith("cuda"):  # share the cores instead of each process taking them all
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        return dist.get_rank(), world, True
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), False
    return 0, 1, False


def _evaluate(objective: nn.Module, loader: DataLoader, device, seed: int) -> dict:
    """Mean losses over the loader (bead-weighted, summed over processes), with fixed random draws."""
    totals = torch.zeros(len(METRICS) + 1, dtype=torch.float64, device=device)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for batch in loader:
            batch = batch.to(device)
            losses = batch_losses(objective, batch, augment=False).double()
            totals[:-1] += losses * batch.n_beads
            totals[-1] += batch.n_beads
    if dist.is_initialized():
        dist.all_reduce(totals)
    return {name: float(totals[i] / totals[-1].clamp_min(1)) for i, name in enumerate(METRICS)}


def evaluate(model: Propagator, dataset: Dataset, config: TrainConfig, device: str = "cpu") -> dict:
    """Mean losses of ``model`` on ``dataset`` without augmentation (fixed noise draws, seeded by config.seed)."""
    model.eval()
    loader = DataLoader(dataset, config.batch_size, collate_fn=collate)
    return _evaluate(Objective(model.to(device), config), loader, device, config.seed)


def initial_weights(path) -> dict:
    """The weights (a state dict) of a training checkpoint or of a bundle, whose scripted Propagator
    holds the same names (``cgml train --init-from``: fine-tuning a shipped model)."""
    if is_bundle(path):
        return load_bundle(path)[0].state_dict()
    return load_checkpoint(path)["model"]


def fit(model_config: ModelConfig, train_config: TrainConfig, train_set: Dataset, val_set: Optional[Dataset],
        out_dir, resume=None, data_metadata: Optional[dict] = None, device: str = "cpu",
        progress: bool = True, stop_after: Optional[int] = None, initial=None) -> dict:
    """Train, validate each epoch, keep ``last.pt`` and ``best.pt`` in ``out_dir``; returns a summary
    (best_val, epochs, history of per-epoch metrics, model: the final Propagator, best/last paths).

    ``resume``: a checkpoint to continue from (model, optimiser, schedule, epoch and best loss); a
    larger ``train_config.epochs`` than the checkpoint's stretches the cosine schedule to the new end.
    ``data_metadata`` (default: ``train_set.metadata`` if it has one) is kept in the checkpoints for
    the bundle's metadata (mapping settings, CG step, data summary).
    ``stop_after``: run at most this many epochs in this call (for time-limited jobs; resume later).
    ``initial``: a checkpoint or a bundle whose weights (scales included) the model starts from, with a
    fresh optimiser and schedule (fine-tuning with other train settings or sampler settings).
    Under torchrun (WORLD_SIZE > 1) every process calls this with the same arguments.
    """
    rank, world, initialised = _distributed(device)
    if device == "cuda":
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        torch.cuda.set_device(device)
    out_dir = Path(out_dir)
    c = train_config
    if len(train_set) == 0:
        raise ValueError("fit: the training set is empty")
    check_noise_ladder(model_config.sigma_ladder(), c.sigma_min, c.sigma_max, "fit")
    torch.manual_seed(c.seed)  # the same initial weights on every process
    model = Propagator(model_config)
    state = load_checkpoint(resume) if resume else None
    if state is not None:
        if state["model_config"] != model_config:
            raise ValueError(f"{resume}: trained with model settings {state['model_config']}, not {model_config}")
        model.load_state_dict(state["model"])
    elif initial is not None:
        model.load_state_dict(initial_weights(initial))
    else:
        model.set_scales(*measure_scales(train_set, c.scale_windows))
    model.to(device)
    objective = Objective(model, c)
    if world > 1:
        objective = nn.parallel.DistributedDataParallel(objective, device_ids=[device] if device != "cpu" else None)
    sampler = DistributedSampler(train_set, world, rank, shuffle=True, seed=c.seed) if world > 1 else None
    train_loader = DataLoader(train_set, c.batch_size, shuffle=sampler is None, sampler=sampler,
                              collate_fn=collate, num_workers=c.num_workers)
    val_loader = None
    if val_set is not None and len(val_set):
        val_sampler = DistributedSampler(val_set, world, rank, shuffle=False) if world > 1 else None
        val_loader = DataLoader(val_set, c.batch_size, sampler=val_sampler, collate_fn=collate)
    optimizer = torch.optim.Adam(model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, c.epochs * len(train_loader)), c.lr_min)
    start, best, history = 0, math.inf, []
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scheduler.T_max = max(1, c.epochs * len(train_loader))
        start, best, history = state["epoch"], state["best_val"], state["history"]
    metadata = dict(data_metadata if data_metadata is not None else getattr(train_set, "metadata", None) or {})
    metadata.setdefault("train_windows", len(train_set))
    if "training_range" not in metadata:
        metadata["training_range"] = measure_training_range(train_set)
    metadata.setdefault("val_windows", len(val_set) if val_set is not None else 0)
    end = c.epochs if stop_after is None else min(c.epochs, start + stop_after)
    for epoch in range(start, end):
        # Random draws (shuffling, augmentation, noise) differ per process and epoch, and a resumed
        # run draws what the uninterrupted run would have.
        torch.manual_seed(c.seed + 1 + rank + 7919 * epoch)
        if sampler is not None:
            sampler.set_epoch(epoch)
        model.train()
        sums = torch.zeros(len(METRICS), dtype=torch.float64)
        tic = time.perf_counter()
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{c.epochs}", disable=not progress or rank != 0,
                   leave=False, dynamic_ncols=True)
        for i, batch in enumerate(bar):
            losses = batch_losses(objective, batch.to(device), augment=True)
            optimizer.zero_grad(set_to_none=True)
            losses[0].backward()
            nn.utils.clip_grad_norm_(model.parameters(), c.clip_norm)
            optimizer.step()
            scheduler.step()
            sums += losses.detach().double().cpu()
            bar.set_postfix({name: f"{float(sums[j]) / (i + 1):.3f}" for j, name in enumerate(METRICS)})
        record = {"epoch": epoch + 1, "seconds": time.perf_counter() - tic, "lr": scheduler.get_last_lr()[0],
                  **{f"train_{name}": float(sums[j]) / max(1, len(train_loader)) for j, name in enumerate(METRICS)}}
        if val_loader is not None:
            model.eval()
            record.update({f"val_{name}": value for name, value in _evaluate(objective, val_loader, device, c.seed).items()})
        history.append(record)
        score = record.get("val_loss", record["train_loss"])
        improved = score < best
        best = min(best, score)
        if rank == 0:
            if progress:
                print(" ".join(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
                               for key, value in record.items()), flush=True)
            if improved:
                save_checkpoint(out_dir / "best.pt", model, model_config, c, None, None, epoch + 1, best, history, metadata)
            save_checkpoint(out_dir / "last.pt", model, model_config, c, optimizer, scheduler, epoch + 1, best, history, metadata)
            (out_dir / "metrics.json").write_text(json.dumps(history, indent=1))
    summary = {"best_val": best, "epochs": len(history), "history": history, "model": model.eval(),
               "best": str(out_dir / "best.pt"), "last": str(out_dir / "last.pt")}
    if initialised:
        dist.barrier()
        dist.destroy_process_group()
    return summary


def split_windows(data_dir, split: str, model_config: ModelConfig, train_config: TrainConfig) -> Dataset:
    """The windows of one split of a dataset written by ``cgml reference``, as the settings ask for
    (history length, CG step, mapping, window spacing, alignment)."""
    if not train_config.cg_step_ps > 0:
        raise ValueError("split_windows: the train settings must give cg_step_ps, the CG step in ps")
    windows = load_windows(data_dir, split, model_config.history_length + train_config.extra_frames(),
                           train_config.cg_step_ps, train_config.mapping, train_config.window_every,
                           train_config.align_windows)
    windows.metadata.update(history_length=model_config.history_length, pushforward=train_config.pushforward,
                            rollout_steps=train_config.rollout_steps)
    return windows
