"""From a training checkpoint to a bundle: the trained Propagator scripted, with its metadata.

``export_checkpoint`` writes the bundle (``bundle.save_bundle``) and, by default, checks it once
(``bundle.check_bundle``).  The metadata keys are those of ``contract.METADATA_KEYS``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, replace
from pathlib import Path

import torch

from . import contract
from .bundle import check_bundle, load_bundle, save_bundle, weights_sha256
from .checkpoint import model_from_checkpoint
from .config import check_noise_ladder
from .data import load_windows, run_names
from .features import ATOM_FEATURES
from .nn import ModelConfig, Propagator
from .train import measure_training_range


def model_metadata(model, checkpoint: dict) -> dict:
    """The bundle metadata of a trained Propagator and its decoded checkpoint (checkpoint.load_checkpoint)."""
    config = checkpoint["model_config"]
    data = dict(checkpoint.get("data") or {})
    history = checkpoint.get("history") or []
    last = history[-1] if history else {}  # the epoch whose weights the checkpoint holds
    scale = float(model.dynamics.displacement_scale)
    return {
        "format": contract.BUNDLE_FORMAT,
        "model": "openmm_cgml.nn.Propagator",
        "timestep_ps": float(config.timestep_ps),
        "history_length": int(config.history_length),
        "score_calls": len(model.score_sigmas),
        "score_sigmas_nm": [fraction * scale for fraction in model.score_sigmas],
        "score_step": model.score_step,
        "scales_nm": {"displacement": scale, "acceleration": float(model.dynamics.acceleration_scale)},
        "atom_features": list(ATOM_FEATURES),
        "vocabulary": {"atomic_number": config.n_elements, "bond_count": config.max_bond_count + 1},
        "mapping": data.pop("mapping", None),
        "training_range": data.pop("training_range", None),
        "verdict": None,  # cgml export --data DATASET judges the bundle (verdict.judge)
        "data": data,
        "validation": {key[4:]: value for key, value in last.items() if key.startswith("val_")},
        "training": {"epoch": last.get("epoch"), "epochs_run": len(history),
                     "epoch_seconds": sum(float(record.get("seconds", 0.0)) for record in history),
                     "command": data.pop("train_command", None),
                     "train_config": asdict(checkpoint["train_config"]) if checkpoint["train_config"] else None},
        "model_config": asdict(config),
        "weights_sha256": weights_sha256(model),
        "torch_version": torch.__version__,
    }


def export_checkpoint(checkpoint, out, extra_metadata: dict | None = None, check: bool = True, **sampler) -> Path:
    """Write the bundle of a training checkpoint (best.pt or last.pt) to ``out``; with ``check``,
    load it back and run it once (check_bundle) before returning its path.  ``sampler``: settings
    of ``_with_sampler`` that replace the trained ones (None keeps one; the noise ladder keeps its ends)."""
    model, state = model_from_checkpoint(checkpoint)
    metadata = model_metadata(*_with_sampler(model, state, trained_sigmas=_trained_sigmas(state["train_config"]), **sampler))
    metadata.update(extra_metadata or {})
    path = save_bundle(torch.jit.script(model), out, metadata)
    if check:
        check_bundle(path)
    return path


def propagator_of(module, metadata: dict) -> Propagator:
    """The Python Propagator (eval mode) of a trained bundle's module and metadata, with the same weights."""
    model = Propagator(ModelConfig.from_dict(metadata["model_config"]))
    model.load_state_dict(module.state_dict())
    return model.eval()


def _same_sampler(old: dict, new: dict) -> bool:
    """Whether two bundles' metadata describe the same sampling of the same weights: the same model
    settings (those missing from an older bundle take their defaults) and the same noise ladder."""
    was = asdict(ModelConfig()) | (old.get("model_config") or {})
    ladder = old.get("score_sigmas_nm") or []
    return (was == new["model_config"] and len(ladder) == len(new["score_sigmas_nm"])
            and all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(ladder, new["score_sigmas_nm"])))


def export_bundle(bundle, out, **sampler) -> Path:
    """A trained bundle re-exported with other sampler settings and the same weights (their SHA-256
    is unchanged): the way to compare samplers of a model whose checkpoint is not at hand, and to
    bring a bundle of an older format (``contract.OLD_BUNDLE_FORMATS``) to the current contract."""
    module, metadata = load_bundle(bundle, current=False)
    if metadata.get("format") not in (contract.BUNDLE_FORMAT, *contract.OLD_BUNDLE_FORMATS) or "model_config" not in metadata:
        raise ValueError(f"export_bundle: '{bundle}' is not a trained bundle written by cgml export")
    model = propagator_of(module, metadata)
    model.score_sigmas = [s / float(model.dynamics.displacement_scale) for s in metadata["score_sigmas_nm"]]
    state = {"model_config": ModelConfig.from_dict(metadata["model_config"]),
             "data": dict(metadata.get("data") or {}, mapping=metadata.get("mapping")), "history": [], "train_config": None}
    trained = _trained_sigmas((metadata.get("training") or {}).get("train_config"))
    model, state = _with_sampler(model, state, trained_sigmas=trained, **sampler)
    updated = dict(metadata)
    updated.update({key: value for key, value in model_metadata(model, state).items()
                    if key in ("format", "score_calls", "score_sigmas_nm", "score_step", "model_config", "weights_sha256",
                               "torch_version")})
    if not _same_sampler(metadata, updated):
        updated["verdict"] = None  # it judged the old sampler's rollouts: cgml export --data judges this one
    path = save_bundle(torch.jit.script(model), out, updated)
    check_bundle(path)
    return path


def record_training_range(bundle, dataset_dir) -> Path:
    """Measure the training range (``train.measure_training_range``) on the train split of the dataset
    a bundle was trained on, and write it into the bundle's metadata: for bundles exported before the
    range was recorded.  The split must hold the runs the bundle's metadata says it was trained on."""
    module, metadata = load_bundle(bundle)
    data = metadata.get("data") or {}
    runs = run_names(dataset_dir, "train")
    if data.get("runs") is not None and sorted(data["runs"]) != sorted(runs):
        raise ValueError(f"record_training_range: '{bundle}' was trained on runs {data['runs']}, but the train split of "
                         f"'{dataset_dir}' holds {runs}")
    mapping = metadata.get("mapping") or "residue"
    windows = load_windows(dataset_dir, "train", module.history_length, module.timestep_ps,
                           mapping.get("method") if isinstance(mapping, dict) else mapping)
    metadata["training_range"] = measure_training_range(windows)
    return save_bundle(module, bundle, metadata)


def record_verdict(bundle, verdict: dict) -> Path:
    """Write a verdict (``verdict.judge``) into a bundle's metadata; the weights stay as they are."""
    module, metadata = load_bundle(bundle)
    metadata["verdict"] = {key: verdict[key] for key in ("usable", "line", "reasons", "figures", "split",
                                                          "steps_per_run", "runs_per_molecule", "seed")}
    return save_bundle(module, bundle, metadata)


def _with_sampler(model, state: dict, score_calls: int | None = None, score_noise: bool | None = None,
                  score_step: float | None = None, noise_scale: float | None = None, score_sampler: str | None = None,
                  score_sigma_max: float | None = None, score_sigma_min: float | None = None,
                  score_correctors: list[int] | None = None, trained_sigmas: tuple[float, float] | None = None):
    """The model and its decoded checkpoint with the sampler's settings replaced where given: the
    sampler (refine or diffusion), its calls and the ends of its noise ladder (in displacement
    units, inside ``trained_sigmas``, the score matching's range, where known), the refinement's noise
    and step α, the factor on the Gaussian's spread, and the ladder levels that get a Langevin corrector call
    (``score_correctors``; kept as they were unless given)."""
    config = state["model_config"]
    if score_sampler is not None:
        config = replace(config, score_sampler=score_sampler)
        model.diffusion = score_sampler == "diffusion"
    if score_sigma_max is not None or score_sigma_min is not None:
        config = replace(config, score_sigma_max=float(config.score_sigma_max if score_sigma_max is None else score_sigma_max),
                         score_sigma_min=float(config.score_sigma_min if score_sigma_min is None else score_sigma_min))
        if not 0 < config.score_sigma_min <= config.score_sigma_max:
            raise ValueError(f"export: the noise ladder needs 0 < sigma_min <= sigma_max, got {config.score_sigma_min}, "
                             f"{config.score_sigma_max}")
        score_calls = len(model.score_sigmas) if score_calls is None else score_calls
    if noise_scale is not None:
        if not 0 < noise_scale <= 2:
            raise ValueError(f"export: noise_scale must be in (0, 2], got {noise_scale}")
        config = replace(config, noise_scale=float(noise_scale))
        model.noise_scale = float(noise_scale)
    if score_calls is not None:
        if score_calls < 0:
            raise ValueError(f"export: score_calls must be >= 0, got {score_calls}")
        config = replace(config, score_calls=score_calls)
        model.score_sigmas = config.sigma_ladder()
    # Last, so that the levels are checked against the sampler and the ladder chosen above.
    config = replace(config, score_correctors=config.score_correctors if score_correctors is None else list(score_correctors))
    model.score_correctors = list(config.score_correctors)
    if trained_sigmas is not None:
        check_noise_ladder(model.score_sigmas, *trained_sigmas, "export", tolerance=1e-9)
    if score_noise is not None:
        config = replace(config, score_noise=bool(score_noise))
        model.score_noise = bool(score_noise)
    if score_step is not None:
        if not 0 < score_step <= 1:
            raise ValueError(f"export: score_step must be in (0, 1], got {score_step}")
        config = replace(config, score_step=float(score_step))
        model.score_step = float(score_step)
    return model, dict(state, model_config=config)


def _trained_sigmas(train_config) -> tuple[float, float] | None:
    """The score matching's noise range (displacement units) of a TrainConfig or its dict; None if unknown."""
    if train_config is None:
        return None
    values = train_config if isinstance(train_config, dict) else asdict(train_config)
    return float(values["sigma_min"]), float(values["sigma_max"])
