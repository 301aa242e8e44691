"""``cgml train DATASET --config FILE``: train the three networks; ``--nproc N`` relaunches under torchrun."""
from __future__ import annotations

import os
import subprocess
import sys

from ..config import load_config
from ..train import fit, split_windows


def add_parser(commands):
    parser = commands.add_parser("train", help="train the embedding, dynamics and score networks")
    parser.add_argument("data", help="dataset folder written by cgml reference")
    parser.add_argument("--config", required=True, help="JSON file with 'model' and 'train' sections (configs/*.json)")
    parser.add_argument("--out", default="out/train", help="folder for checkpoints and metrics")
    parser.add_argument("--resume", help="checkpoint to continue from (e.g. OUT/last.pt)")
    parser.add_argument("--init-from", help="checkpoint or bundle whose weights the model starts from, with a fresh "
                                            "optimiser and schedule (fine-tuning with other settings)")
    parser.add_argument("--epochs", type=int, help="override train.epochs")
    parser.add_argument("--seed", type=int, help="override train.seed (initial weights, window order, noise): another "
                                                 "training run of the same recipe, to choose among on validation")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--nproc", type=int, default=1, help="processes (DistributedDataParallel via torchrun)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or epoch lines")
    return parser


def run(args) -> int:
    """Train from parsed arguments; relaunches this command under torchrun when --nproc > 1."""
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={args.nproc}",
                   "-m", "openmm_cgml.cli", "train", *_one_process_argv(args)]
        return subprocess.call(command)
    model_config, train_config = load_config(args.config)
    if args.epochs is not None:
        train_config.epochs = args.epochs
    if args.seed is not None:
        train_config.seed = args.seed
    train_set = split_windows(args.data, "train", model_config, train_config)
    val_set = split_windows(args.data, "validation", model_config, train_config)
    metadata = dict(getattr(train_set, "metadata", None) or {})
    processes = int(os.environ.get("WORLD_SIZE", args.nproc))  # under torchrun, this process's argv has no --nproc
    metadata["train_command"] = " ".join(["cgml train", *_one_process_argv(args)] + ([f"--nproc {processes}"] if processes > 1 else []))
    timestep = metadata.get("timestep_ps")
    if timestep is not None:  # the model's CG step is the one its windows were cut at
        model_config.timestep_ps = float(timestep)
    summary = fit(model_config, train_config, train_set, val_set, args.out, args.resume, metadata,
                  args.device, progress=not args.no_progress, initial=args.init_from)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"best validation loss {summary['best_val']:.4f}; checkpoints in {args.out}")
    return 0


def _one_process_argv(args) -> list[str]:
    """The arguments of one process of a multi-process run (everything but --nproc)."""
    argv = [str(args.data), "--config", str(args.config), "--out", str(args.out), "--device", args.device]
    if args.resume:
        argv += ["--resume", str(args.resume)]
    if args.init_from:
        argv += ["--init-from", str(args.init_from)]
    if args.epochs is not None:
        argv += ["--epochs", str(args.epochs)]
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    if args.no_progress:
        argv.append("--no-progress")
    return argv
