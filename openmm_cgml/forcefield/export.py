"""Checkpoint → force-field file, with the Langevin settings it runs with (chosen on validation data)."""
from __future__ import annotations

from pathlib import Path

from .system import save_forcefield
from .train import model_from_checkpoint


def export_forcefield(checkpoint, out, friction_per_ps: float, timestep_ps: float) -> Path:
    """Write the force field of a training checkpoint (``best.pt``) to ``out``, with the bead mapping it
    was trained on."""
    if not friction_per_ps > 0 or not timestep_ps > 0:
        raise ValueError(f"export_forcefield: friction ({friction_per_ps}/ps) and time step ({timestep_ps} ps) must be > 0")
    model, state = model_from_checkpoint(checkpoint)
    config = state["config"]
    metadata = {"config": state["config"].__dict__, "train": state["train"].__dict__, "epoch": state["epoch"],
                "best_validation": state["best_val"], "training": state["data"],
                "training_seconds": round(sum(h["seconds"] for h in state["history"]), 1),
                "temperature_k": config.temperature_k, "friction_per_ps": float(friction_per_ps),
                "timestep_ps": float(timestep_ps), "mapping": state["train"].mapping}
    return save_forcefield(model, out, metadata)
