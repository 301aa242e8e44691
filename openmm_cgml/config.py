"""Training settings: ``TrainConfig`` and the JSON files of configs/ that give model and train settings."""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from .nn import ModelConfig


SIZE_UNITS = ("start", "run_spread")  # TrainConfig.rollout_size_units


@dataclass
class TrainConfig:
    """Optimisation and augmentation settings.  Noise levels are in units of the displacement scale
    (the rms displacement per CG step of the training data), so they carry over between systems."""

    epochs: int = 20
    batch_size: int = 8
    lr: float = 1e-3
    lr_min: float = 1e-5             # end of the cosine schedule
    weight_decay: float = 0.0
    clip_norm: float = 1.0           # gradient clipping (global norm)
    score_weight: float = 1.0        # weight of the denoising score matching loss
    sigma_min: float = 0.05          # noise levels of score matching, log-uniform in [sigma_min, sigma_max]
    sigma_max: float = 1.0
    sigma_tilt: float = 0.0          # tilts the noise levels towards sigma_max: log σ is drawn with density ∝ u^tilt,
                                     # u the position in [log sigma_min, log sigma_max] from 0 to 1 (0: log-uniform).
                                     # Every level's optimum is the same; more draws go where the score network must
                                     # weigh a step's modes against each other (large σ), less to local denoising
    input_noise: float = 0.05        # std of the Gaussian noise added to history frames
    truncate_prob: float = 0.25      # chance that a window's history is cut short (oldest frames copied)
    pushforward: float = 0.0         # chance that a window's newest history frame is the model's own sample
                                     # (drawn without gradient from the frames before it; windows then hold
                                     # one frame more), against the exposure bias of teacher forcing
    rollout_steps: int = 0           # multi-step training: windows hold this many frames after the history, and
                                     # the model's own rollouts (``Propagator.sample``, reparameterised) are scored
                                     # against them on per-window Rg² and bead MSD at every step (CRPS)
    rollout_samples: int = 2         # rollouts per window (the CRPS compares them with each other and the data)
    rollout_weight: float = 1.0      # weight of that score in the loss
    rollout_local_weight: float = 0.0  # weight of the CRPS of the distances between beads one and two CG bonds
                                     # apart after each rollout step (bond lengths and angles: the local structure
                                     # a sampler with few score calls gets wrong; needs rollout_steps)
    rollout_size_units: str = "start"  # the units of each window's Rg² in the rollout CRPS: "start", its Rg² at the
                                     # window's start (compact and swollen chains weighed by their size), or
                                     # "run_spread", the sd of Rg² over the window's run (each chain by its own
                                     # size fluctuations, so a compact globule's count as much as a swollen coil's)
    rollout_drift_weight: float = 0.0  # weight of the squared bias of the batch's mean Rg² after each rollout step
                                     # (rollouts.size_drift: the pull of the chains' size back to its mean, which a
                                     # per-window CRPS barely sees; needs rollout_steps)
    rollout_drift_memory: int = 0    # batches over which the size bias is averaged to steer that score's gradient
                                     # (rollouts.size_drift; 0: the batch's own estimate, which its noise swamps).
                                     # The average is kept per process and starts afresh on --resume
    rollout_tail_weight: float = 0.0  # weight of the squared gaps between the rollouts' pooled distributions of bond
                                     # lengths and of bond angles and the data's, at the data's 1, 5, 25, 50, 75, 95
                                     # and 99 % quantiles, each gap in units of its sampling sd (rollouts.
                                     # quantile_gaps: the tails, which the per-pair CRPS barely sees; needs rollout_steps)
    rollout_tail_width: float = 0.05  # width of the logistic step that smooths those CDFs, in units of the data's sd
    rollout_tail_memory: int = 0     # batches over which the gaps are averaged to steer that score's gradient
                                     # (rollouts.tail_gap; 0: the batch's own gaps). Per process, afresh on --resume
    scale_windows: int = 256         # windows used to measure the displacement and acceleration scales
    seed: int = 0
    num_workers: int = 0             # DataLoader workers per process
    cg_step_ps: float = 0.0          # CG step of the windows (a multiple of the dataset's save interval)
    mapping: str = "residue"         # atom → bead mapping of the windows: 'residue' or 'graclus:N'
    window_every: int = 1            # a window starts at every window_every-th saved frame
    align_windows: bool = False      # superpose each window's frames onto its last history frame: the model
                                     # learns internal motion only and does not tumble the molecule (for a
                                     # molecule in vacuum, whose rotation swamps its internal motion at long steps)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"TrainConfig: unknown settings {unknown}")
        config = cls(**values)
        if not config.sigma_tilt >= 0:
            raise ValueError(f"TrainConfig: sigma_tilt must be at least 0, got {config.sigma_tilt}")
        if config.rollout_steps > 0 and config.pushforward > 0:
            raise ValueError("TrainConfig: rollout_steps and pushforward both lengthen the windows; use one of them")
        if config.rollout_size_units not in SIZE_UNITS:
            raise ValueError(f"TrainConfig: rollout_size_units must be one of {SIZE_UNITS}, got {config.rollout_size_units!r}")
        for name in ("rollout_drift_memory", "rollout_tail_memory"):
            if getattr(config, name) < 0:
                raise ValueError(f"TrainConfig: {name} must be at least 0, got {getattr(config, name)}")
        if not config.rollout_tail_width > 0:
            raise ValueError(f"TrainConfig: rollout_tail_width must be positive, got {config.rollout_tail_width}")
        for name in ("rollout_local_weight", "rollout_drift_weight", "rollout_tail_weight"):
            if getattr(config, name) > 0 and config.rollout_steps == 0:
                raise ValueError(f"TrainConfig: {name} scores the model's own rollouts; set rollout_steps")
        if config.rollout_steps > 0 and config.rollout_samples < 2:
            raise ValueError(f"TrainConfig: rollout_samples must be at least 2 (the CRPS compares samples), "
                             f"got {config.rollout_samples}")
        return config

    def extra_frames(self) -> int:
        """Frames a window holds besides the model's history and the next frame."""
        return 1 if self.pushforward > 0 else max(0, self.rollout_steps - 1)


def check_noise_ladder(ladder: list[float], sigma_min: float, sigma_max: float, where: str,
                       tolerance: float = 0.0) -> None:
    """Refuse a ladder of score-call noise levels (displacement units) that leaves the range
    [sigma_min, sigma_max] the score network was trained on; ``tolerance``, relative, absorbs the
    rounding of a ladder read back from a bundle's nm."""
    if ladder and not (sigma_min * (1 - tolerance) <= min(ladder) and max(ladder) <= sigma_max * (1 + tolerance)):
        raise ValueError(f"{where}: the noise ladder [{min(ladder):g}, {max(ladder):g}] leaves the levels the score "
                         f"network was trained on [{sigma_min:g}, {sigma_max:g}] (displacement units)")


def load_config(path) -> tuple[ModelConfig, TrainConfig]:
    """A JSON file ``{"model": {...}, "train": {...}}``; settings left out take their defaults."""
    values = json.loads(Path(path).read_text())
    unknown = sorted(set(values) - {"model", "train", "description"})
    if unknown:
        raise ValueError(f"{path}: unknown sections {unknown}")
    return ModelConfig.from_dict(values.get("model", {})), TrainConfig.from_dict(values.get("train", {}))
