"""Writing and reading propagator bundles: one TorchScript file with JSON metadata, never pickle.

Also the export of a trained model (``export_checkpoint``, the ``cgml export`` command) and a check
that runs a bundle once, frozen as the C++ integrator freezes it (``check_bundle``).

The contract (DESIGN.md): exported methods ``embed`` and ``step``, an int attribute
``history_length`` and a float attribute ``timestep_ps``.  The metadata file name must match the
one the C++ plugin reads (CGMLBundle::metadataFile()).
"""
from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict
from pathlib import Path

import torch

from .files import write_atomically

METADATA_FILE = "metadata.json"
MODELS = Path(__file__).resolve().parents[1] / "models"  # trained bundles shipped with the source tree


def check_contract(module: torch.jit.ScriptModule, where: str = "bundle") -> None:
    """Raise ValueError naming what ``module`` lacks of the propagator contract."""
    for name in ("embed", "step"):
        if not hasattr(module, name):
            raise ValueError(f"{where}: no method '{name}' (mark it with @torch.jit.export)")
    k = getattr(module, "history_length", None)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"{where}: 'history_length' must be an int >= 1, got {k!r}")
    dt = getattr(module, "timestep_ps", None)
    if not isinstance(dt, float) or not dt > 0:
        raise ValueError(f"{where}: 'timestep_ps' must be a float > 0, got {dt!r}")


def shipped_model(name: str) -> Path:
    """Path of a trained bundle shipped in models/ (e.g. 'polymer', 'peptide')."""
    path = MODELS / f"{name}.pt"
    if not path.is_file():
        known = sorted(p.stem for p in MODELS.glob("*.pt"))
        raise FileNotFoundError(f"no shipped model '{name}' in {MODELS}; shipped: {known}")
    return path


def save_bundle(module: torch.nn.Module, path, metadata: dict | None = None) -> Path:
    """Script ``module`` if needed, check it, and write it atomically to ``path``."""
    scripted = module if isinstance(module, torch.jit.ScriptModule) else torch.jit.script(module)
    check_contract(scripted, f"{type(module).__name__}")
    extra = {METADATA_FILE: json.dumps(metadata or {}, indent=1, sort_keys=True)}
    return write_atomically(path, lambda temporary: torch.jit.save(scripted, temporary, _extra_files=extra))


def load_bundle(path) -> tuple[torch.jit.ScriptModule, dict]:
    """Load and check a bundle; returns the module and its metadata."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"bundle file '{path}' does not exist")
    extra = {METADATA_FILE: ""}
    try:
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except RuntimeError as error:
        raise ValueError(f"'{path}' is not a TorchScript bundle: {error}") from None
    check_contract(module, str(path))
    return module, json.loads(extra[METADATA_FILE] or "{}")


# ------------------------------------------------------------------------ trained models to bundles

BUNDLE_FORMAT = "openmm-cgml-bundle-1"


def weights_sha256(module: torch.nn.Module) -> str:
    """SHA-256 over the state dict: names in sorted order, each with its dtype, shape and raw bytes."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def model_metadata(model, checkpoint: dict) -> dict:
    """The bundle metadata of a trained Propagator and its decoded checkpoint (train.load_checkpoint)."""
    from .integrator import ATOM_FEATURES

    config = checkpoint["model_config"]
    data = dict(checkpoint.get("data") or {})
    history = checkpoint.get("history") or []
    last = history[-1] if history else {}  # the epoch whose weights the checkpoint holds
    scale = float(model.dynamics.displacement_scale)
    return {
        "format": BUNDLE_FORMAT,
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
        "data": data,
        "validation": {key[4:]: value for key, value in last.items() if key.startswith("val_")},
        "training": {"epoch": last.get("epoch"), "epochs_run": len(history),
                     "train_config": asdict(checkpoint["train_config"])},
        "model_config": asdict(config),
        "weights_sha256": weights_sha256(model),
        "torch_version": torch.__version__,
    }


def export_checkpoint(checkpoint, out, extra_metadata: dict | None = None, check: bool = True,
                      score_calls: int | None = None) -> Path:
    """Write the bundle of a training checkpoint (best.pt or last.pt) to ``out``; with ``check``,
    load it back and run it once (check_bundle) before returning its path.  ``score_calls``
    replaces the trained number of refinement calls (the noise ladder keeps its ends)."""
    from dataclasses import replace

    from .train import model_from_checkpoint

    model, state = model_from_checkpoint(checkpoint)
    if score_calls is not None:
        if score_calls < 0:
            raise ValueError(f"score_calls must be >= 0, got {score_calls}")
        model.score_sigmas = replace(state["model_config"], score_calls=score_calls).sigma_ladder()
    metadata = model_metadata(model, state)
    metadata.update(extra_metadata or {})
    path = save_bundle(torch.jit.script(model), out, metadata)
    if check:
        check_bundle(path)
    return path


def _dummy_system(n_beads: int, k: int):
    """A straight chain of ``n_beads`` beads of two atoms (C, H), bead spacing 0.38 nm, at rest."""
    n_atoms = 2 * n_beads
    features = torch.tensor([[6, 2], [1, 1]] * n_beads, dtype=torch.long)
    atom_bonds = torch.stack([torch.arange(n_atoms - 1), torch.arange(1, n_atoms)])
    bead_of_atom = torch.arange(n_atoms) // 2
    masses = torch.tensor([12.011, 1.008] * n_beads, dtype=torch.float64)
    x = torch.zeros(n_beads, 3, dtype=torch.float64)
    x[:, 0] = 0.38 * torch.arange(n_beads, dtype=torch.float64)
    bead_bonds = torch.stack([torch.arange(n_beads - 1), torch.arange(1, n_beads)])
    return (features, atom_bonds, bead_of_atom, masses), x.expand(k, n_beads, 3).contiguous(), bead_bonds


def check_bundle(path, n_beads: int = 5) -> tuple[torch.jit.ScriptModule, dict]:
    """Load a bundle, freeze it as the C++ integrator does, run embed and step once on a small chain,
    and check shapes, dtypes, finiteness and (when recorded) the weights' SHA-256.  Returns what
    load_bundle returns; raises ValueError naming the first problem."""
    module, metadata = load_bundle(path)
    recorded = metadata.get("weights_sha256")
    if recorded is not None and weights_sha256(module) != recorded:
        raise ValueError(f"{path}: weights do not match the recorded SHA-256 {recorded}")
    try:
        with warnings.catch_warnings():  # TorchScript freezing is what the C++ side does, deprecated or not
            warnings.simplefilter("ignore", DeprecationWarning)
            frozen = torch.jit.freeze(module.eval(), preserved_attrs=["embed", "step", "history_length", "timestep_ps"])
    except RuntimeError as error:
        raise ValueError(f"{path}: cannot be frozen for inference: {error}") from None
    atoms, history, bead_bonds = _dummy_system(n_beads, module.history_length)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        embedding = frozen.embed(*atoms)
        if embedding.dim() != 2 or embedding.shape[0] != n_beads or not embedding.is_floating_point():
            raise ValueError(f"{path}: embed() returned {embedding.dtype} {tuple(embedding.shape)}, "
                             f"expected floating point ({n_beads}, H)")
        out = frozen.step(embedding, history, bead_bonds)
    if out.shape != (n_beads, 3) or out.dtype != torch.float64:
        raise ValueError(f"{path}: step() returned {out.dtype} {tuple(out.shape)}, expected float64 ({n_beads}, 3)")
    if not (bool(torch.isfinite(embedding).all()) and bool(torch.isfinite(out).all())):
        raise ValueError(f"{path}: embed() or step() returned NaN or infinite values")
    return module, metadata


def add_cli(commands) -> None:
    parser = commands.add_parser("export", help="write the bundle (TorchScript + JSON metadata) of a training checkpoint")
    parser.add_argument("checkpoint", help="checkpoint written by `cgml train` (e.g. out/train/best.pt)")
    parser.add_argument("--out", required=True, help="bundle file to write, e.g. models/polymer.pt")
    parser.add_argument("--no-check", action="store_true", help="skip loading and running the written bundle once")
    parser.add_argument("--score-calls", type=int, help="refinement calls per step (default: as trained)")

    def run(args) -> int:
        path = export_checkpoint(args.checkpoint, args.out, check=not args.no_check, score_calls=args.score_calls)
        _, metadata = load_bundle(path)
        print(f"wrote {path}: k={metadata['history_length']}, CG step {metadata['timestep_ps']} ps, "
              f"{metadata['score_calls']} score calls, validation {metadata['validation']}, "
              f"weights sha256 {metadata['weights_sha256'][:16]}")
        return 0

    parser.set_defaults(func=run)
