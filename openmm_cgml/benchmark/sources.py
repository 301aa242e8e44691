"""Where the benchmark's bead trajectories come from: classical replicas stored in a dataset, CG
rollouts of a bundle inside OpenMM, and replays of classical frames (stand-ins with known answers).

Every source gives ``Replica`` objects (bead centres in nm, a frame interval in ps), so the same
estimators read MD, CG and stand-ins alike.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import openmm
import openmm.unit as unit

from .. import analysis
from ..data import read_dataset, read_run, run_paths
from ..features import atom_bonds
from ..integrator import create_integrator
from ..bundle import load_bundle
from ..forcefield.system import forcefield_metadata, forcefield_settings, is_forcefield, simulate
from ..mapping import BeadMapping, particle_masses
from . import estimators


@dataclass
class Replica:
    """One independent run seen at the bead level."""

    beads: np.ndarray          # (n_frames, n_beads, 3), nm
    interval_ps: float
    name: str
    wall_s: float = float("nan")  # time spent in the integrator's steps (CG rollouts)

    @property
    def length_ps(self) -> float:
        return self.beads.shape[0] * self.interval_ps


@dataclass
class Molecule:
    """The classical replicas of one molecule (one sequence, or one PDB), with what the CG side needs."""

    name: str
    mapping: BeadMapping
    bonds: list[tuple[int, int]]
    replicas: list[Replica]
    system: openmm.System
    topology: object
    starts: list[np.ndarray] = field(default_factory=list)  # atom positions (nm) where each kept replica begins

    @property
    def masses(self) -> np.ndarray:
        return self.mapping.bead_masses()


def dataset_molecules(dataset_dir, split: str, mapping_method: str, discard_ps: float = 0.0,
                      only: set[str] | None = None) -> list[Molecule]:
    """The runs of one split grouped by molecule (the runs' common source: a sequence or a PDB file),
    mapped to beads, with the first ``discard_ps`` of every run left out; ``only``: these sources."""
    dataset = read_dataset(dataset_dir)
    if split not in dataset["splits"]:
        raise ValueError(f"dataset_molecules: '{dataset_dir}' has no split '{split}'; it has {sorted(dataset['splits'])}")
    groups: dict[str, list[str]] = {}
    for name in dataset["splits"][split]:
        groups.setdefault(dataset["runs"][name]["source"], []).append(name)
    molecules = []
    for source, names in groups.items():
        if only is not None and source not in only:
            continue
        molecule = None
        for name in names:
            metadata, system, trajectory = read_run(Path(dataset_dir) / "trajectories" / f"{name}.h5")
            interval = float(metadata["frame_interval_ps"])
            skip = int(round(discard_ps / interval))
            if skip >= trajectory.n_frames - 1:
                raise ValueError(f"dataset_molecules: run '{name}' has {trajectory.n_frames} frames; "
                                 f"discarding {discard_ps} ps leaves none")
            xyz = trajectory.xyz[skip:].astype(np.float64)
            if molecule is None:
                topology = trajectory.topology.to_openmm()
                mapping = BeadMapping.create(mapping_method, topology, system)
                molecule = Molecule(Path(source).stem if metadata["source"].endswith(".pdb") else source, mapping,
                                    mapping.bead_bonds(atom_bonds(topology)), [], system, topology)
            molecule.replicas.append(Replica(molecule.mapping.centres(xyz), interval, name))
            molecule.starts.append(xyz[0])
        molecules.append(molecule)
    return molecules


def classical_speed(data, molecule: Molecule) -> float | None:
    """Simulated ns per wall second of the molecule's classical runs as the dataset made them (one
    process per run; equilibration, saving and set-up included), None where the dataset lacks times."""
    dataset = read_dataset(data)
    settings = dataset["settings"]
    runs = [dataset["runs"][r.name] for r in molecule.replicas]
    if not all(run.get("wall_seconds") for run in runs):
        return None
    ps = sum((run.get("production_ps") or settings["production_ps"]) + settings["equilibration_ps"] for run in runs)
    return float(ps / 1e3 / sum(run["wall_seconds"] for run in runs))


def save_replicas(replicas: list[Replica], path) -> Path:
    """The CG side's bead trajectories (nm), frame interval, names and wall seconds, as one .npz
    (plain arrays, read with ``allow_pickle=False``), so later analyses need not run them again."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, beads=np.stack([r.beads for r in replicas]), interval_ps=replicas[0].interval_ps,
                        names=np.array([r.name for r in replicas]), wall_s=np.array([r.wall_s for r in replicas]))
    return path


def load_replicas(path) -> list[Replica]:
    """The replicas ``save_replicas`` wrote."""
    saved = np.load(path, allow_pickle=False)
    interval = float(saved["interval_ps"])
    return [Replica(beads, interval, str(name), float(wall))
            for beads, name, wall in zip(saved["beads"], saved["names"], saved["wall_s"])]


def split_fingerprint(dataset_dir, split: str) -> str:
    """SHA-256 (16 hex digits) of one split's classical frames: each run's name and coordinates as
    stored.  Regenerated reference data are not bit-for-bit the same on another processor (and chaos
    makes them differ in everything), so results record which copy of the data they were measured on,
    and runs measured on different copies are never read against one ceiling."""
    import tables

    digest = hashlib.sha256()
    for path in run_paths(dataset_dir, split):
        with tables.open_file(str(path), "r") as h5:
            digest.update(path.stem.encode())
            digest.update(np.ascontiguousarray(h5.root.coordinates[:]).tobytes())
    return digest.hexdigest()[:16]


def split_sources(dataset_dir, split: str) -> list[str]:
    """The molecules (run sources) of one split, in the order of their first run."""
    dataset = read_dataset(dataset_dir)
    return list(dict.fromkeys(dataset["runs"][name]["source"] for name in dataset["splits"][split]))


def choose_discard(dataset_dir, split: str, candidates_ps=(0.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0)) -> dict:
    """The equilibration to leave out, justified from the data: chains start extended, so the mean
    Rg of the first half of a run differs from the second half until the start is forgotten.  For
    each candidate, the halves' difference of every run in units of its block standard error (z);
    the smallest candidate whose mean z over runs is within 2 / sqrt(runs) of 0 is chosen (single
    runs of slow, sticky chains drift on their own, so the largest |z| is reported, not used)."""
    dataset = read_dataset(dataset_dir)
    series = []
    for name in dataset["splits"][split]:
        metadata, system, trajectory = read_run(Path(dataset_dir) / "trajectories" / f"{name}.h5")
        series.append((analysis.radius_of_gyration(trajectory.xyz.astype(np.float64), np.array(particle_masses(system))),
                       float(metadata["frame_interval_ps"])))
    table = []
    for discard in candidates_ps:
        z = [estimators.halves_drift(rg[int(round(discard / dt)):])["z"] for rg, dt in series]
        table.append({"discard_ps": discard, "mean_z": float(np.mean(z)), "max_abs_z": float(np.max(np.abs(z)))})
    bound = 2.0 / np.sqrt(len(series))
    chosen = next((row for row in table if abs(row["mean_z"]) < bound), table[-1])
    return {"discard_ps": chosen["discard_ps"], "runs": len(series), "bound_mean_z": bound, "candidates": table}


def rollout(bundle, molecule: Molecule, start: np.ndarray, n_frames: int, seed: int, platform: str = "CPU",
            name: str = "CG") -> Replica:
    """``n_frames`` CG steps of the bundle inside an OpenMM Context from atom positions ``start`` (nm);
    bead centres after every step (one torch and one OpenMM thread)."""
    import torch

    torch.set_num_threads(1)
    integrator = create_integrator(bundle, molecule.topology, molecule.system, mapping=molecule.mapping)
    integrator.setRandomNumberSeed(int(seed))
    properties = {"Threads": "1"} if platform == "CPU" else {}
    context = openmm.Context(molecule.system, integrator, openmm.Platform.getPlatformByName(platform), properties)
    context.setPositions(start)
    frames, wall = np.empty((n_frames, molecule.mapping.n_beads, 3)), 0.0
    for i in range(n_frames):
        tic = time.perf_counter()
        integrator.step(1)
        wall += time.perf_counter() - tic
        frames[i] = molecule.mapping.centres(context.getState(getPositions=True).getPositions(asNumpy=True)._value)
    return Replica(frames, integrator.getStepSize().value_in_unit(unit.picosecond), name, wall)


def replay(replicas: list[Replica], step_ps: float, slowdown: float = 1.0) -> list[Replica]:
    """Stand-ins with known answers: the classical frames of ``replicas`` read every ``step_ps``
    (what a perfect model with that CG step would produce) and labelled as if each frame came
    ``slowdown`` times later, so a slowdown of 2 is a model whose dynamics run twice too slowly."""
    out = []
    for r in replicas:
        stride = int(round(step_ps / r.interval_ps))
        if stride < 1 or abs(stride * r.interval_ps - step_ps) > 1e-6 * step_ps:
            raise ValueError(f"replay: the step {step_ps} ps is not a whole number of frames of {r.interval_ps} ps")
        out.append(Replica(r.beads[::stride], step_ps * slowdown, f"replay of {r.name}"))
    return out


def stand_in_slowdown(model) -> float | None:
    """The slowdown of a stand-in model name ('replay': 1, 'replay:S': S), None for a bundle path."""
    model = str(model)
    if model == "replay":
        return 1.0
    return float(model.split(":", 1)[1]) if model.startswith("replay:") else None


def cg_side(model, molecule: Molecule, seed: int, platform: str, replay_step_ps: float, segments: int = 1,
            processes: int = 1, progress: bool = False) -> tuple[list[Replica], float]:
    """The CG replicas of one molecule and the CG step they were taken with: for every replica of
    half A, a CG run as long, from where it starts.  ``model`` is a bundle path, a force-field file
    (see ``forcefield_side`` for ``segments`` and ``processes``) or a stand-in ('replay', 'replay:S':
    half A's own frames read every ``replay_step_ps``, see ``replay``)."""
    a_reps, _ = estimators.split_halves(molecule.replicas)
    slowdown = stand_in_slowdown(model)
    if slowdown is not None:
        return replay(a_reps, replay_step_ps, slowdown), replay_step_ps
    a_starts, _ = estimators.split_halves(molecule.starts)
    if is_forcefield(model):
        return forcefield_side(model, molecule, a_reps, a_starts, seed, platform, replay_step_ps, segments,
                               processes, progress), replay_step_ps
    step = load_bundle(model)[0].timestep_ps
    runs = [rollout(model, molecule, start, int(round(r.length_ps / step)), seed + i, platform, f"CG from {r.name}")
            for i, (r, start) in enumerate(zip(a_reps, a_starts))]
    return runs, step


def _simulate_group(path: str, molecule: Molecule, starts: list, length_ps: float, interval_ps: float, seed: int,
                    platform: str, progress: int | None = None) -> tuple[list[np.ndarray], float]:
    """Worker: ``forcefield.system.simulate`` of one group of copies, one torch thread (runs in a process)."""
    import torch

    torch.set_num_threads(1)  # one thread per process, as the integrator's rollouts (TorchForce runs torch)
    return simulate(path, molecule.topology, molecule.system, starts, length_ps, interval_ps, seed, platform,
                    molecule.mapping, progress)


def forcefield_side(path, molecule: Molecule, a_reps: list[Replica], a_starts: list, seed: int, platform: str,
                    interval_ps: float, segments: int = 1, processes: int = 1, progress: bool = False) -> list[Replica]:
    """CG force-field runs (``forcefield.system.simulate``), frames every ``interval_ps`` (the CG step
    of the integrator's models, so both CG sides are compared with as many frames).

    With ``segments`` = 1, one run from where each replica of half A starts, as long as the shortest
    of them.  With ``segments`` = S > 1, every replica of half A is cut into S equal segments and one
    run starts from the bead positions of each segment's first frame, as long as the segment: as much
    CG time as half A in S times fewer force-field steps per copy, for molecules whose force field
    costs far more per step than their classical MD (the copies share each TorchForce call).  The
    copies are run in ``processes`` Systems side by side (``progress``: a bar per System); each
    replica gets an equal share of the wall time."""
    method = forcefield_metadata(path)["mapping"]
    if method != molecule.mapping.method:
        raise ValueError(f"the force field '{path}' maps atoms to beads by '{method}', this benchmark by "
                         f"'{molecule.mapping.method}'")
    if segments < 1 or processes < 1:
        raise ValueError(f"forcefield_side: segments ({segments}) and processes ({processes}) must be at least 1")
    length = min(r.length_ps for r in a_reps) / segments
    if segments == 1:
        starts, names = list(a_starts), [f"CG force field from {r.name}" for r in a_reps]
    else:
        stride = int(round(length / a_reps[0].interval_ps))
        starts = [r.beads[k * stride] for r in a_reps for k in range(segments)]
        names = [f"CG force field from {r.name}, segment {k + 1}/{segments}" for r in a_reps for k in range(segments)]
    groups = [list(range(len(starts)))[g::processes] for g in range(min(processes, len(starts)))]
    if len(groups) == 1:
        results = [_simulate_group(str(path), molecule, starts, length, interval_ps, seed, platform, 0 if progress else None)]
    else:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(len(groups), mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_simulate_group, str(path), molecule, [starts[i] for i in group], length, interval_ps,
                                   seed + 1000 * g, platform, g if progress else None) for g, group in enumerate(groups)]
            results = [f.result() for f in futures]
    copies, wall = [None] * len(starts), sum(w for _, w in results)
    for group, (beads, _) in zip(groups, results):
        for i, b in zip(group, beads):
            copies[i] = b
    return [Replica(beads, interval_ps, name, wall / len(copies)) for beads, name in zip(copies, names)]


def model_mapping(model, default: str) -> str:
    """The bead mapping a benchmark reads the molecules with: the model's (bundle or force field), or
    ``default`` for the stand-ins."""
    if stand_in_slowdown(model) is not None:
        return default
    if is_forcefield(model):
        return forcefield_metadata(model)["mapping"]
    return load_bundle(model)[1].get("mapping") or default


def model_settings(model) -> dict:
    """What the results JSON records about the model: ``bundle_settings``, ``forcefield_settings``, or
    the stand-in's name."""
    if stand_in_slowdown(model) is not None:
        return {"stand_in": str(model)}
    if is_forcefield(model):
        return forcefield_settings(model)
    return bundle_settings(model)


def bundle_settings(bundle) -> dict:
    """What the results JSON records about the model: the bundle's path (relative to the working
    directory where it lies inside it) and file SHA-256, its weights' hash and its sampler settings."""
    _, metadata = load_bundle(bundle)
    keys = ("weights_sha256", "timestep_ps", "history_length", "score_calls", "score_sigmas_nm", "score_step", "mapping")
    path = Path(bundle).absolute()
    shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path  # no machine path for the repository's own
    settings = {"path": str(shown), "file_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    settings |= {key: metadata.get(key) for key in keys}
    config = metadata.get("model_config") or {}
    settings |= {"score_sampler": config.get("score_sampler", "refine"), "score_noise": config.get("score_noise"),
                 "score_correctors": config.get("score_correctors", []), "noise_degree": config.get("noise_degree", 0),
                 "noise_scale": config.get("noise_scale", 1.0)}
    return settings
