"""Writing and reading propagator bundles: one TorchScript file with JSON metadata, never pickle.

The contract (DESIGN.md): exported methods ``embed`` and ``step``, an int attribute
``history_length`` and a float attribute ``timestep_ps``.  The metadata file name must match the
one the C++ plugin reads (CGMLBundle::metadataFile()).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch

METADATA_FILE = "metadata.json"


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


def save_bundle(module: torch.nn.Module, path, metadata: dict | None = None) -> Path:
    """Script ``module`` if needed, check it, and write it atomically to ``path``."""
    scripted = module if isinstance(module, torch.jit.ScriptModule) else torch.jit.script(module)
    check_contract(scripted, f"{type(module).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {METADATA_FILE: json.dumps(metadata or {}, indent=1, sort_keys=True)}
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".partial")
    os.close(handle)
    try:
        torch.jit.save(scripted, temporary, _extra_files=extra)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


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
