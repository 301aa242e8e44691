"""Quantile gaps of a checkpoint's own rollouts: how far its pooled bond lengths and bond angles are from the data's.

The diagnostic behind ``TrainConfig.rollout_tail_weight``: on ``--batches`` batches of windows drawn
(seeded) from one split of a training dataset, the model's sampler rolls each window forward as many
steps as its config's ``rollout_steps`` (``rollouts.rollout_score``, two samples, no gradient), and
``rollouts.quantile_gaps`` compares the pooled bond lengths and angles with the data's frames at the
data's 1, 5, 25, 50, 75, 95 and 99 % quantiles: F_model(t) − F_data(t) in units of √(q (1 − q)).
Prints and writes (JSON) the mean gap per level over the batches, its sd between batches, and the
mean of the squared gaps (the loss term).  The same windows and seeds for every checkpoint.

    python benchmarks/rollout_gaps.py out/polymer-diffusion-large-seed1-c10s8x3r6l64/best.pt \\
        --config configs/polymer-diffusion-large-c10s8x3r6l64t.json --data data/polymers-x3 \\
        --out benchmarks/results/validation/rollout-gaps.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from openmm_cgml.checkpoint import model_from_checkpoint
from openmm_cgml.cli.train import load_config
from openmm_cgml.data import collate
from openmm_cgml.files import write_atomically
from openmm_cgml.rollouts import TAIL_LEVELS, rollout_score
from openmm_cgml.train import split_windows

QUANTITIES = ("bond_lengths", "bond_angles")


def gaps_of(checkpoint, windows, batches: int, batch_size: int, width: float, seed: int) -> torch.Tensor:
    """The gaps of each batch, (batches, 2, len(TAIL_LEVELS))."""
    model, _ = model_from_checkpoint(checkpoint)
    model = model.eval()
    chosen = torch.randperm(len(windows), generator=torch.Generator().manual_seed(seed))[:batches * batch_size]
    if len(chosen) < batches * batch_size:
        raise ValueError(f"rollout_gaps: {batches} batches of {batch_size} need {batches * batch_size} windows, "
                         f"the split has {len(windows)}")
    torch.manual_seed(seed)
    result = []
    for b in range(batches):
        batch = collate([windows[int(i)] for i in chosen[b * batch_size:(b + 1) * batch_size]])
        with torch.no_grad():
            embedding = model.embed(batch.atom_features, batch.atom_bonds, batch.bead_of_atom, batch.atom_masses)
            k = model.history_length
            history = batch.history.to(torch.float64)
            future = torch.cat([history[k:], batch.target.to(torch.float64).unsqueeze(0)])
            _, _, gaps = rollout_score(model, embedding, history[:k], future, batch.bead_bonds, batch.bead_graph,
                                       batch.n_graphs, 2, tail_width=width)
        result.append(gaps)
    return torch.stack(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", help="training checkpoints (cgml train's best.pt)")
    parser.add_argument("--config", required=True, help="a training config with rollout_steps (its windows and steps)")
    parser.add_argument("--data", required=True, help="a dataset written by cgml reference")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--width", type=float, default=None, help="the CDFs' smoothing in data sd (default: the config's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args()
    model_config, train_config = load_config(args.config)
    if train_config.rollout_steps < 1:
        sys.exit(f"rollout_gaps.py: {args.config} has no rollout_steps")
    width = train_config.rollout_tail_width if args.width is None else args.width
    torch.set_num_threads(2)
    windows = split_windows(args.data, args.split, model_config, train_config)
    results = {}
    for checkpoint in args.checkpoints:
        gaps = gaps_of(checkpoint, windows, args.batches, args.batch_size, width, args.seed)
        mean, sd = gaps.mean(0), gaps.std(0)
        results[str(checkpoint)] = {
            name: {"mean": [round(float(x), 4) for x in mean[i]], "sd_between_batches": [round(float(x), 4) for x in sd[i]]}
            for i, name in enumerate(QUANTITIES)} | {"mean_squared_gap": float((gaps ** 2).mean())}
        for i, name in enumerate(QUANTITIES):
            print(f"{checkpoint} {name}: gaps at {list(TAIL_LEVELS)}: {[round(float(x), 3) for x in mean[i]]} "
                  f"(sd between batches {[round(float(x), 3) for x in sd[i]]})")
    summary = {"command": "python benchmarks/rollout_gaps.py " + " ".join(sys.argv[1:]), "levels": list(TAIL_LEVELS),
               "split": args.split, "batches": args.batches, "batch_size": args.batch_size, "width_sd": width,
               "rollout_steps": train_config.rollout_steps, "seed": args.seed, "checkpoints": results}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, lambda temporary: Path(temporary).write_text(json.dumps(summary, indent=1) + "\n"))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
