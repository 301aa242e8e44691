"""Training checkpoints: state dicts, counters and JSON strings only, loaded with ``weights_only=True``."""
from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import torch

from .config import TrainConfig
from .files import write_atomically
from .nn import ModelConfig, Propagator

CHECKPOINT_FORMAT = "openmm-cgml-checkpoint-1"


def save_checkpoint(path, model: Propagator, model_config: ModelConfig, train_config: TrainConfig,
                    optimizer=None, scheduler=None, epoch: int = 0, best_val: float = math.inf,
                    history: Optional[list] = None, data_metadata: Optional[dict] = None) -> Path:
    """Write state dicts, counters and JSON strings (nothing that needs pickle to load), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": CHECKPOINT_FORMAT,
        "model_config": model_config.to_json(),
        "train_config": json.dumps(asdict(train_config), sort_keys=True),
        "model": model.state_dict(),
        "epoch": int(epoch),
        "best_val": float(best_val),
        "history": json.dumps(history or []),
        "data": json.dumps(data_metadata or {}, sort_keys=True),
    }
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    return write_atomically(path, lambda temporary: torch.save(state, temporary))


def load_state(path, checkpoint_format: str, what: str) -> dict:
    """A checkpoint's raw contents (``weights_only`` loading: no pickle), with a clear error unless it
    is of ``checkpoint_format``."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("format") != checkpoint_format:
        raise ValueError(f"{path}: not {what} (format {state.get('format')!r})")
    return state


def load_checkpoint(path) -> dict:
    """The checkpoint's contents with the JSON fields decoded (``weights_only`` loading)."""
    state = load_state(path, CHECKPOINT_FORMAT, "an openmm-cgml checkpoint")
    state["model_config"] = ModelConfig.from_dict(json.loads(state["model_config"]))
    state["train_config"] = TrainConfig.from_dict(json.loads(state["train_config"]))
    state["history"] = json.loads(state["history"])
    state["data"] = json.loads(state["data"])
    return state


def model_from_checkpoint(path) -> tuple[Propagator, dict]:
    """The trained Propagator (float32, eval mode) and the decoded checkpoint."""
    state = load_checkpoint(path)
    model = Propagator(state["model_config"])
    model.load_state_dict(state["model"])
    return model.eval(), state
