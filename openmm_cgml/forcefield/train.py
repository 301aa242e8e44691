"""Force matching: fit the CG force field's forces −∇E to the mapped atom forces of reference frames.

The loss is the mean squared force error per bead component over the mean squared mapped force.
The mapped forces scatter widely around the mean force (the degrees of freedom the beads hide), so
the loss cannot reach zero: its floor is that scatter, and only the validation loss ranks models.
The prior is Boltzmann-inverted from the training frames before the first step (``fit_prior``).
Checkpoints hold state dicts, counters and JSON only; ``last.pt`` is written after every epoch and
a run started again with the same settings resumes from it.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..analysis import angle_triples, bond_angles, bond_lengths, pair_distances
from ..checkpoint import load_state
from ..files import write_atomically
from .forces import ForceFrames, load_force_split
from .model import CGForceField, ForceFieldConfig, Terms, bond_distances

CHECKPOINT_FORMAT = "openmm-cgml-forcefield-checkpoint-1"


@dataclass
class ForceMatchingConfig:
    epochs: int = 10
    frames_per_run: int = 8          # frames of one run in a batch
    runs_per_batch: int = 4
    lr: float = 1e-3
    lr_min: float = 1e-5
    clip_norm: float = 1.0
    every: int = 10                  # every N-th saved frame is used (neighbours are nearly the same)
    validation_every: int = 50       # validation frames are sparser still (their loss only ranks models)
    seed: int = 0
    mapping: str = "residue"         # atoms to beads (mapping.BeadMapping.create): the force field's beads

    @classmethod
    def from_dict(cls, values: dict) -> "ForceMatchingConfig":
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"ForceMatchingConfig: unknown settings {unknown}")
        return cls(**values)


def fit_prior(model: CGForceField, runs: list[ForceFrames], repulsion_quantile: float = 0.001) -> dict:
    """Boltzmann inversion over the frames of ``runs``: bond r0 and k = kT / var(r), angle c0 and
    k = kT / var(cos θ), and σ of the repulsion at the ``repulsion_quantile`` of the distances of
    beads three or more bonds apart.  Sets the prior's buffers and returns the values."""
    lengths, cosines, far = [], [], []
    for run in runs:
        x = run.positions.numpy()
        bonds = np.asarray(run.bead_bonds, dtype=np.int64).reshape(-1, 2)
        lengths.append(bond_lengths(x, bonds).ravel())
        triples = angle_triples(bonds)
        if len(triples):
            cosines.append(np.cos(bond_angles(x, triples)).ravel())
        hops = bond_distances(run.n_beads, bonds)
        i, j = np.triu_indices(run.n_beads, 1)
        keep = hops[i, j] >= 3
        if keep.any():
            far.append(pair_distances(x, np.stack([i[keep], j[keep]], 1)).ravel())
    kt = model.prior.kt
    values = {"bond_r0": float(np.mean(np.concatenate(lengths))), "bond_k": kt / float(np.var(np.concatenate(lengths)))}
    if cosines:
        c = np.concatenate(cosines)
        values |= {"angle_c0": float(c.mean()), "angle_k": kt / float(c.var())}
    else:
        values |= {"angle_c0": 0.0, "angle_k": 0.0}
    values["sigma"] = float(np.quantile(np.concatenate(far), repulsion_quantile)) if far else 0.0
    for name, value in values.items():
        getattr(model.prior, name).fill_(value)
    return values


class Batches:
    """Batches of ``runs_per_batch`` chunks of ``frames_per_run`` frames each, as one disjoint graph."""

    def __init__(self, runs: list[ForceFrames], frames_per_run: int, runs_per_batch: int):
        self.runs, self.frames_per_run, self.runs_per_batch = runs, frames_per_run, runs_per_batch
        self.terms: dict[tuple[int, int], Terms] = {}
        self.force_scale = math.sqrt(float(np.mean([float((r.forces ** 2).mean()) for r in runs])))

    def epoch(self, generator: torch.Generator | None) -> list[list[tuple[int, Tensor]]]:
        chunks = []
        for i, run in enumerate(self.runs):
            order = torch.randperm(run.positions.shape[0], generator=generator) if generator is not None \
                else torch.arange(run.positions.shape[0])
            chunks += [(i, c) for c in torch.split(order, self.frames_per_run)]
        if generator is not None:
            chunks = [chunks[j] for j in torch.randperm(len(chunks), generator=generator).tolist()]
        return [chunks[j: j + self.runs_per_batch] for j in range(0, len(chunks), self.runs_per_batch)]

    def loss(self, model: CGForceField, batch: list[tuple[int, Tensor]], create_graph: bool) -> Tensor:
        """Mean squared force error over the batch, in units of the mean squared mapped force."""
        parts, features, x, target = [], [], [], []
        for i, frames in batch:
            run = self.runs[i]
            key = (i, len(frames))
            if key not in self.terms:
                self.terms[key] = Terms.of(run.n_beads, run.bead_bonds, len(frames))
            parts.append(self.terms[key])
            bead = model.embed(run.atom_features, run.atom_bonds, run.bead_of_atom, run.atom_masses)
            features.append(bead.repeat(len(frames), 1))
            x.append(run.positions[frames].reshape(-1, 3))
            target.append(run.forces[frames].reshape(-1, 3))
        terms = Terms.join(parts)
        x = torch.cat(x).requires_grad_(True)
        energy = model(x, torch.cat(features), terms.edge_index, terms.is_bond, terms.bonds, terms.angles, terms.repulsive)
        forces = -torch.autograd.grad(energy, x, create_graph=create_graph)[0]
        return ((forces - torch.cat(target)) ** 2).mean() / self.force_scale ** 2


def save_checkpoint(path, model, config: ForceFieldConfig, train: ForceMatchingConfig, optimizer, scheduler,
                    epoch: int, best_val: float, history: list, data: dict) -> Path:
    state = {"format": CHECKPOINT_FORMAT, "config": config.to_json(), "train": json.dumps(asdict(train), sort_keys=True),
             "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "epoch": int(epoch), "best_val": float(best_val), "history": json.dumps(history), "data": json.dumps(data)}
    return write_atomically(Path(path), lambda temporary: torch.save(state, temporary))


def load_checkpoint(path) -> dict:
    """A force-field checkpoint with its JSON fields decoded (``weights_only`` loading)."""
    state = load_state(path, CHECKPOINT_FORMAT, "an openmm-cgml force-field checkpoint")
    state["config"] = ForceFieldConfig.from_dict(json.loads(state["config"]))
    state["train"] = ForceMatchingConfig.from_dict(json.loads(state["train"]))
    state["history"], state["data"] = json.loads(state["history"]), json.loads(state["data"])
    return state


def model_from_checkpoint(path) -> tuple[CGForceField, dict]:
    state = load_checkpoint(path)
    model = CGForceField(state["config"])
    model.load_state_dict(state["model"])
    return model.eval(), state


def train(dataset_dir, out_dir, config: ForceFieldConfig, settings: ForceMatchingConfig, progress: bool = True,
          command: str = "") -> dict:
    """Force-match a CG force field on the train split, ranked on the validation split; writes
    ``best.pt``, ``last.pt`` and ``metrics.json`` to ``out_dir`` and returns the metrics."""
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(settings.seed)
    train_runs = load_force_split(dataset_dir, "train", settings.every, mapping_method=settings.mapping, progress=progress)
    val_runs = load_force_split(dataset_dir, "validation", settings.validation_every, mapping_method=settings.mapping,
                                progress=progress)
    temperatures = {r.temperature_k for r in train_runs + val_runs}
    if temperatures != {config.temperature_k}:
        raise ValueError(f"the runs of '{dataset_dir}' are at {sorted(temperatures)} K, the force field's prior at "
                         f"{config.temperature_k} K: set temperature_k")
    model = CGForceField(config)
    prior = fit_prior(model, train_runs)
    batches, val_batches = (Batches(runs, settings.frames_per_run, settings.runs_per_batch) for runs in (train_runs, val_runs))
    val_batches.force_scale = batches.force_scale  # one unit for both losses
    steps_per_epoch = len(batches.epoch(None))
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, settings.epochs * steps_per_epoch, settings.lr_min)
    data = {"dataset": Path(dataset_dir).name, "train_runs": len(train_runs), "validation_runs": len(val_runs),
            "train_frames": int(sum(r.positions.shape[0] for r in train_runs)),
            "validation_frames": int(sum(r.positions.shape[0] for r in val_runs)),
            "force_scale_kj_per_mol_nm": batches.force_scale, "prior": prior, "command": command}
    start, best_val, history = 0, math.inf, []
    last = out / "last.pt"
    if last.exists():
        state = load_checkpoint(last)
        if state["config"] == config and state["train"] == settings:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            start, best_val, history = state["epoch"], state["best_val"], state["history"]
    generator = torch.Generator().manual_seed(settings.seed)
    for _ in range(start):  # the same shuffles as an uninterrupted run
        batches.epoch(generator)
    for epoch in range(start, settings.epochs):
        tic = time.perf_counter()
        model.train()
        total = 0.0
        plan = batches.epoch(generator)
        for batch in tqdm(plan, desc=f"epoch {epoch + 1}/{settings.epochs}", disable=not progress, leave=False):
            loss = batches.loss(model, batch, create_graph=True)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip_norm)
            optimizer.step()
            scheduler.step()
            total += loss.item()
        model.eval()
        val = float(np.mean([val_batches.loss(model, b, create_graph=False).item() for b in val_batches.epoch(None)]))
        history.append({"epoch": epoch + 1, "train": total / len(plan), "validation": val,
                        "seconds": round(time.perf_counter() - tic, 1)})
        if progress:
            print(f"epoch {epoch + 1}: train {total / len(plan):.4f}  validation {val:.4f}  ({history[-1]['seconds']} s)",
                  flush=True)
        if val < best_val:
            best_val = val
            save_checkpoint(out / "best.pt", model, config, settings, optimizer, scheduler, epoch + 1, best_val, history, data)
        save_checkpoint(last, model, config, settings, optimizer, scheduler, epoch + 1, best_val, history, data)
    metrics = {"best_validation": best_val, "history": history, "data": data}
    write_atomically(out / "metrics.json", lambda p: Path(p).write_text(json.dumps(metrics, indent=1)))
    return metrics
