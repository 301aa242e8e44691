"""Propagator bundles on disk: writing, reading and checking them, and the trained ones shipped with the package.

A bundle is one TorchScript file with JSON metadata inside (never pickle); what it must hold is the
propagator contract (``contract``, docs/contract.md).  ``check_bundle`` runs a bundle once, frozen
as the C++ integrator freezes it.
"""
from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
from importlib import resources
from pathlib import Path

import torch

from . import contract
from .files import write_atomically

MODELS = Path(str(resources.files("openmm_cgml") / "models"))  # trained bundles shipped as package data


def check_contract(module: torch.jit.ScriptModule, where: str = "bundle", arguments: bool = True) -> None:
    """Raise ValueError naming what ``module`` lacks of the propagator contract (with ``arguments``,
    also methods that take another number of arguments, as bundles of an older format do)."""
    for method in contract.METHODS:
        if not hasattr(module, method.name):
            raise ValueError(f"{where}: no method '{method.name}' (mark it with @torch.jit.export)")
        if not arguments:
            continue
        taken = len(getattr(module, method.name).schema.arguments) - 1
        if taken != len(method.inputs):
            names = ", ".join(argument.name for argument in method.inputs)
            raise ValueError(f"{where}: '{method.name}' takes {taken} arguments, the propagator contract needs "
                             f"{len(method.inputs)} ({names}); bundles of an older format are re-exported with "
                             f"cgml export OLD.pt --out NEW.pt")
    k = getattr(module, contract.HISTORY_LENGTH, None)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"{where}: '{contract.HISTORY_LENGTH}' must be an int >= 1, got {k!r}")
    dt = getattr(module, contract.TIMESTEP, None)
    if not isinstance(dt, float) or not dt > 0:
        raise ValueError(f"{where}: '{contract.TIMESTEP}' must be a float > 0, got {dt!r}")


def shipped_model(name: str) -> Path:
    """Path of a trained bundle shipped with the package (e.g. 'polymer', 'peptide')."""
    path = MODELS / f"{name}.pt"
    if not path.is_file():
        known = sorted(p.stem for p in MODELS.glob("*.pt"))
        raise FileNotFoundError(f"shipped_model: no shipped model '{name}' in {MODELS}; shipped: {known}")
    return path


def is_bundle(path) -> bool:
    """Whether ``path`` is a TorchScript archive (a bundle) rather than, say, a training checkpoint."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in name for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def save_bundle(module: torch.nn.Module, path, metadata: dict | None = None) -> Path:
    """Script ``module`` if needed, check it, and write it atomically to ``path``.  The metadata gets
    the SHA-256 of the weights (``weights_sha256``), which the plugin checks when it loads the
    bundle, unless it records one already."""
    scripted = module if isinstance(module, torch.jit.ScriptModule) else torch.jit.script(module)
    check_contract(scripted, f"{type(module).__name__}")
    metadata = dict(metadata or {})
    metadata.setdefault(contract.WEIGHTS_KEY, weights_sha256(scripted))
    extra = {contract.METADATA_FILE: json.dumps(metadata, indent=1, sort_keys=True)}
    return write_atomically(path, lambda temporary: torch.jit.save(scripted, temporary, _extra_files=extra))


def load_bundle(path, current: bool = True) -> tuple[torch.jit.ScriptModule, dict]:
    """Load and check a bundle; returns the module and its metadata.  ``current=False`` also accepts
    bundles of an older contract (to re-export them)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"bundle file '{path}' does not exist")
    extra = {contract.METADATA_FILE: ""}
    try:
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except RuntimeError as error:
        raise ValueError(f"'{path}' is not a TorchScript bundle: {error}") from None
    check_contract(module, str(path), arguments=current)
    return module, json.loads(extra[contract.METADATA_FILE] or "{}")


def rotation_free(metadata: dict) -> bool:
    """Whether a bundle was trained on rotation-free windows (``TrainConfig.align_windows``): its steps
    keep the molecule's orientation, so its bead MSD counts internal motion only."""
    return bool(((metadata.get("training") or {}).get("train_config") or {}).get("align_windows"))


def sampler_summary(settings: dict) -> str:
    """The score sampler in words, from a bundle's ``model_config`` or a results JSON's ``model``:
    "diffusion sampler, 10 score calls, correctors at levels [5, 6]" or "10 score calls, score noise False"."""
    if settings.get("score_sampler") == "diffusion":
        correctors = f", correctors at levels {settings['score_correctors']}" if settings.get("score_correctors") else ""
        return f"diffusion sampler, {settings.get('score_calls')} score calls{correctors}"
    return f"{settings.get('score_calls')} score calls, score noise {settings.get('score_noise')}"


def weights_sha256(module: torch.nn.Module) -> str:
    """SHA-256 over the state dict: names in sorted order, each with its dtype, shape and raw bytes."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def example_inputs(n_beads: int, k: int):
    """Inputs of ``embed`` and ``step`` for a straight chain of ``n_beads`` beads of two atoms (C, H),
    bead spacing 0.38 nm, at rest: (embed's four tensors), history, bead bonds."""
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
    recorded = metadata.get(contract.WEIGHTS_KEY)
    if recorded not in (None, contract.UNVERIFIED) and weights_sha256(module) != recorded:
        raise ValueError(f"{path}: weights do not match the recorded SHA-256 {recorded}")
    try:
        with warnings.catch_warnings():  # TorchScript freezing is what the C++ side does, deprecated or not
            warnings.simplefilter("ignore", DeprecationWarning)
            frozen = torch.jit.freeze(module.eval(), preserved_attrs=list(contract.PRESERVED))
    except RuntimeError as error:
        raise ValueError(f"{path}: cannot be frozen for inference: {error}") from None
    atoms, history, bead_bonds = example_inputs(n_beads, getattr(module, contract.HISTORY_LENGTH))
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        embedding = frozen.embed(*atoms)
        if embedding.dim() != 2 or embedding.shape[0] != n_beads or not embedding.is_floating_point():
            raise ValueError(f"{path}: embed() returned {embedding.dtype} {tuple(embedding.shape)}, "
                             f"expected floating point ({n_beads}, H)")
        out = frozen.step(embedding, history, bead_bonds, torch.Generator().manual_seed(0))
    if out.shape != (n_beads, 3) or out.dtype != torch.float64:
        raise ValueError(f"{path}: step() returned {out.dtype} {tuple(out.shape)}, expected float64 ({n_beads}, 3)")
    if not (bool(torch.isfinite(embedding).all()) and bool(torch.isfinite(out).all())):
        raise ValueError(f"{path}: embed() or step() returned NaN or infinite values")
    return module, metadata
