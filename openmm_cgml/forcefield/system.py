"""Force-field files, and running them inside OpenMM: a CG System (one particle per bead) whose only
force is an ``openmmtorch.TorchForce``, advanced by ``LangevinMiddleIntegrator``.

A force-field file is one TorchScript archive of the whole ``CGForceField`` (embedding included, so
it serves any molecule) with JSON metadata inside: its settings, the prior, the training facts, and
the Langevin settings it is meant to run with (friction and time step, chosen on validation data).
For one System, ``create_system`` embeds the molecule once and scripts a small module that holds the
bead features and the index tensors of N independent copies: what TorchForce calls with positions.
"""
from __future__ import annotations

import hashlib
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import openmm
import openmm.unit as unit
import torch
from torch import Tensor, nn

from ..bundle import weights_sha256
from ..features import atom_bonds, atom_features
from ..files import write_atomically
from ..mapping import BeadMapping
from .model import Terms

FORMAT = "openmm-cgml-forcefield-1"
METADATA_FILE = "forcefield.json"


def save_forcefield(model: nn.Module, path, metadata: dict) -> Path:
    """Script ``model`` (a ``CGForceField``) and write it with its metadata, atomically."""
    scripted = torch.jit.script(model)
    metadata = dict(metadata) | {"format": FORMAT, "weights_sha256": weights_sha256(scripted)}
    extra = {METADATA_FILE: json.dumps(metadata, indent=1, sort_keys=True)}
    return write_atomically(Path(path), lambda temporary: torch.jit.save(scripted, temporary, _extra_files=extra))


def forcefield_metadata(path) -> dict | None:
    """The metadata of a force-field file, read from the archive without loading the module; None
    for anything else (a propagator bundle, a stand-in name, a missing file)."""
    try:
        with zipfile.ZipFile(str(path)) as archive:
            name = next((n for n in archive.namelist() if n.endswith(f"/extra/{METADATA_FILE}")), None)
            metadata = json.loads(archive.read(name)) if name else None
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    return metadata if isinstance(metadata, dict) and metadata.get("format") == FORMAT else None


def is_forcefield(path) -> bool:
    """Whether ``path`` is a force-field file (and not a propagator bundle or a stand-in name)."""
    return forcefield_metadata(path) is not None


def load_forcefield(path) -> tuple[torch.jit.ScriptModule, dict]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"force-field file '{path}' does not exist")
    extra = {METADATA_FILE: ""}
    try:
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except RuntimeError as error:
        raise ValueError(f"'{path}' is not a TorchScript file: {error}") from None
    metadata = json.loads(extra[METADATA_FILE] or "{}")
    if metadata.get("format") != FORMAT:
        raise ValueError(f"'{path}' is not an openmm-cgml force field (format {metadata.get('format')!r}); "
                         f"it is written by cgml forcefield train")
    return module, metadata


def forcefield_settings(path) -> dict:
    """What results JSON records about a force field: path, file hash, weights hash, Langevin settings."""
    metadata = forcefield_metadata(path)
    if metadata is None:
        load_forcefield(path)  # raises the error that says what the file is not
    path = Path(path).absolute()
    shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
    return {"kind": "cg-forcefield", "path": str(shown), "file_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "weights_sha256": metadata["weights_sha256"], "friction_per_ps": metadata["friction_per_ps"],
            "timestep_ps": metadata["timestep_ps"], "temperature_k": metadata["temperature_k"],
            "mapping": metadata["mapping"]}


class SystemEnergy(nn.Module):
    """What TorchForce runs: the force field's energy (kJ/mol) of the positions (nm) of one System's beads."""

    def __init__(self, forcefield: torch.jit.ScriptModule, features: Tensor, terms: Terms):
        super().__init__()
        self.forcefield = forcefield
        self.register_buffer("features", features)
        for name in ("edge_index", "is_bond", "bonds", "angles", "repulsive"):
            self.register_buffer(name, getattr(terms, name))

    def forward(self, positions: Tensor) -> Tensor:
        x = positions.to(torch.float64)
        return self.forcefield(x, self.features, self.edge_index, self.is_bond, self.bonds, self.angles, self.repulsive)


def create_system(path, topology, atom_system: openmm.System, copies: int = 1,
                  mapping: BeadMapping | None = None) -> tuple[openmm.System, BeadMapping, dict]:
    """A CG System of ``copies`` independent copies of the molecule of ``topology`` (each bead a
    particle of the bead's mass, copy c's beads after copy c−1's), with the force field as its only
    force; returns it with the bead mapping and the force field's metadata."""
    import openmmtorch

    module, metadata = load_forcefield(path)
    mapping = mapping or BeadMapping.create(metadata["mapping"], topology, atom_system)
    mapping.require_covers(atom_system, "forcefield.create_system")
    if copies < 1:
        raise ValueError(f"create_system: copies must be at least 1, got {copies}")
    bonds = atom_bonds(topology)
    with torch.no_grad():
        features = module.embed(torch.tensor(atom_features(topology), dtype=torch.long),
                                torch.tensor(bonds, dtype=torch.long).reshape(-1, 2).T.contiguous(),
                                torch.tensor(mapping.bead_of_atom),
                                torch.tensor(mapping.atom_masses, dtype=torch.float64))
    terms = Terms.of(mapping.n_beads, mapping.bead_bonds(bonds), copies)
    energy = torch.jit.script(SystemEnergy(module, features.repeat(copies, 1), terms))
    system = openmm.System()
    for mass in np.tile(mapping.bead_masses(), copies):
        system.addParticle(float(mass))
    system.addForce(openmmtorch.TorchForce(energy))
    return system, mapping, metadata


def langevin(metadata: dict, seed: int = 0) -> openmm.LangevinMiddleIntegrator:
    """The integrator the force field is meant to run with (temperature, friction and step of its metadata)."""
    integrator = openmm.LangevinMiddleIntegrator(metadata["temperature_k"] * unit.kelvin,
                                                 metadata["friction_per_ps"] / unit.picosecond,
                                                 metadata["timestep_ps"] * unit.picosecond)
    integrator.setRandomNumberSeed(int(seed))
    return integrator


def _bead_start(start, mapping: BeadMapping, n_atoms: int) -> np.ndarray:
    """Bead positions (nm) of a start given as atom or bead positions."""
    start = np.asarray(start, dtype=np.float64)
    if start.shape == (n_atoms, 3):
        return mapping.centres(start)
    if start.shape == (mapping.n_beads, 3):
        return start
    raise ValueError(f"simulate: a start has shape {start.shape}; expected atom positions ({n_atoms}, 3) or bead "
                     f"positions ({mapping.n_beads}, 3) in nm")


def simulate(path, topology, atom_system: openmm.System, starts: list[np.ndarray], length_ps: float,
             interval_ps: float, seed: int = 0, platform: str = "CPU",
             mapping: BeadMapping | None = None, progress: int | None = None) -> tuple[list[np.ndarray], float]:
    """Run one copy of the molecule from each of ``starts`` (atom positions (n_atoms, 3) or bead
    positions (n_beads, 3), nm), all in one System, for ``length_ps`` each; bead positions every
    ``interval_ps`` per copy ((frames, n_beads, 3) nm) and the wall seconds of the steps.
    ``progress``: show a progress bar at that terminal line (None: none)."""
    from tqdm import tqdm

    system, mapping, metadata = create_system(path, topology, atom_system, len(starts), mapping)
    integrator = langevin(metadata, seed)
    dt = metadata["timestep_ps"]
    per_frame = int(round(interval_ps / dt))
    if per_frame < 1 or abs(per_frame * dt - interval_ps) > 1e-6 * interval_ps:
        raise ValueError(f"simulate: the frame interval {interval_ps} ps is not a whole number of force-field steps of {dt} ps")
    n_frames = int(round(length_ps / interval_ps))
    properties = {"Threads": "1"} if platform == "CPU" else {}
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName(platform), properties)
    context.setPositions(np.concatenate([_bead_start(s, mapping, atom_system.getNumParticles()) for s in starts]))
    context.setVelocitiesToTemperature(metadata["temperature_k"] * unit.kelvin, int(seed))
    n = mapping.n_beads
    frames, wall = np.empty((n_frames, len(starts) * n, 3)), 0.0
    for f in tqdm(range(n_frames), desc=f"force field, {len(starts)} copies", unit="frame", position=progress,
                  disable=progress is None, leave=False):
        tic = time.perf_counter()
        integrator.step(per_frame)
        wall += time.perf_counter() - tic
        frames[f] = context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    if not np.isfinite(frames).all():
        raise RuntimeError(f"simulate: the force field '{path}' gave non-finite positions (time step too long?)")
    return [frames[:, c * n:(c + 1) * n] for c in range(len(starts))], wall
