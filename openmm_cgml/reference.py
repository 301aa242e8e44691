"""Classical reference runs: minimise, equilibrate, then save frames to an mdtraj HDF5 file.

Each run writes, next to each other, ``NAME.h5`` (frames and topology), ``NAME.system.xml`` (the
System, for masses and forces) and ``NAME.json`` (metadata).  The JSON is written last and says
``"complete": true``; nothing under the final names exists before the run has finished.  While a
run is under way its frames go, chunk by chunk, into ``NAME.parts/`` together with an OpenMM
checkpoint, so that an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import openmm
import openmm.unit as unit

from . import platforms
from .files import write_atomically
from .systems import MolecularSystem, peptides, polymers

METADATA_VERSION = 1


@dataclass(frozen=True)
class RunSettings:
    production_ps: float
    save_interval_ps: float
    equilibration_ps: float = 100.0
    seed: int = 1
    platform: str | None = None  # None: CUDA when present, otherwise CPU
    chunk_frames: int = 500


def is_complete(out_dir, name: str) -> bool:
    path = Path(out_dir) / f"{name}.json"
    return path.is_file() and json.loads(path.read_text()).get("complete") is True


def steps_of(ps: float, timestep_ps: float, what: str) -> int:
    """The whole number of classical steps in ``ps``; a clear error if it is not whole."""
    steps = ps / timestep_ps
    if steps < 1 or abs(steps - round(steps)) > 1e-6 * steps:
        raise ValueError(f"{what} ({ps} ps) must be a positive whole number of classical steps of {timestep_ps} ps")
    return int(round(steps))


def run(molecule: MolecularSystem, out_dir, name: str, settings: RunSettings, progress=None) -> Path:
    """Run (or resume, or skip when complete) one reference trajectory; returns the HDF5 path.

    ``progress``, if given, is called with the number of classical steps done since the last call.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{name}.h5"
    if is_complete(out_dir, name):
        return final
    dt = molecule.timestep_ps
    save_every = steps_of(settings.save_interval_ps, dt, "the save interval")
    n_frames = steps_of(settings.production_ps, settings.save_interval_ps, "the production length in save intervals")
    parts = out_dir / f"{name}.parts"
    parts.mkdir(exist_ok=True)
    platform = settings.platform or platforms.default()
    integrator = openmm.LangevinMiddleIntegrator(molecule.temperature_k * unit.kelvin,
                                                 molecule.friction_per_ps / unit.picosecond, dt * unit.picosecond)
    integrator.setRandomNumberSeed(settings.seed)
    properties = {"Threads": "1"} if platform == "CPU" else {}
    context = openmm.Context(molecule.system, integrator, openmm.Platform.getPlatformByName(platform), properties)
    started = time.perf_counter()
    done = _resume(parts, context)
    if done == 0:
        context.setPositions(molecule.positions)
        openmm.LocalEnergyMinimizer.minimize(context)
        context.setVelocitiesToTemperature(molecule.temperature_k * unit.kelvin, settings.seed)
        equilibration = steps_of(settings.equilibration_ps, dt, "the equilibration") if settings.equilibration_ps else 0
        _advance(integrator, equilibration, progress)
        context.setTime(0.0)
    chunks = -(-n_frames // settings.chunk_frames)
    for chunk in range(done, chunks):
        frames = []
        for _ in range(min(settings.chunk_frames, n_frames - chunk * settings.chunk_frames)):
            _advance(integrator, save_every, progress)
            state = context.getState(getPositions=True)
            frames.append(state.getPositions(asNumpy=True).value_in_unit(unit.nanometer))
        write_atomically(parts / f"chunk-{chunk:06d}.npy", lambda p: np.save(p, np.asarray(frames, np.float32)))
        # The checkpoint is named by its chunk, so progress.json always points at a matching pair.
        write_atomically(parts / f"checkpoint-{chunk:06d}.chk", lambda p: Path(p).write_bytes(context.createCheckpoint()))
        write_atomically(parts / "progress.json", lambda p: Path(p).write_text(json.dumps({"chunks": chunk + 1})))
        (parts / f"checkpoint-{chunk - 1:06d}.chk").unlink(missing_ok=True)
    wall = time.perf_counter() - started
    xyz = np.concatenate([np.load(parts / f"chunk-{c:06d}.npy", allow_pickle=False) for c in range(chunks)])
    if xyz.shape != (n_frames, molecule.system.getNumParticles(), 3):
        raise RuntimeError(f"{parts}: the saved chunks hold {xyz.shape} coordinates, expected "
                           f"({n_frames}, {molecule.system.getNumParticles()}, 3); delete the folder and run again")
    metadata = {
        "version": METADATA_VERSION, "name": name, "source": molecule.source, "forcefield": list(molecule.forcefield),
        "n_atoms": molecule.system.getNumParticles(), "n_residues": molecule.topology.getNumResidues(),
        "temperature_k": molecule.temperature_k, "friction_per_ps": molecule.friction_per_ps, "timestep_ps": dt,
        "save_interval_steps": save_every, "frame_interval_ps": settings.save_interval_ps, "n_frames": n_frames,
        "settings": asdict(settings) | {"platform": platform}, "openmm_version": openmm.version.version,
        "wall_seconds_last_session": round(wall, 2), "complete": True,
    }
    write_atomically(out_dir / f"{name}.system.xml", lambda p: Path(p).write_text(openmm.XmlSerializer.serialize(molecule.system)))
    write_atomically(final, lambda p: _write_h5(p, molecule, xyz, settings, metadata))
    write_atomically(out_dir / f"{name}.json", lambda p: Path(p).write_text(json.dumps(metadata, indent=1)))
    shutil.rmtree(parts)
    return final


def _resume(parts: Path, context: openmm.Context) -> int:
    """Chunks already saved in ``parts`` (0 for a fresh run), with the Context restored to their end."""
    progress = parts / "progress.json"
    if not progress.is_file():
        return 0
    chunks = int(json.loads(progress.read_text())["chunks"])
    context.loadCheckpoint((parts / f"checkpoint-{chunks - 1:06d}.chk").read_bytes())
    return chunks


def _advance(integrator, steps: int, progress) -> None:
    integrator.step(steps)
    if progress is not None:
        progress(steps)


def _write_h5(path, molecule: MolecularSystem, xyz: np.ndarray, settings: RunSettings, metadata: dict) -> None:
    import mdtraj
    from mdtraj.formats import HDF5TrajectoryFile

    with HDF5TrajectoryFile(path, "w") as h5:
        h5.topology = mdtraj.Topology.from_openmm(molecule.topology)
        h5.title = f"openmm-cgml reference run {metadata['name']}"
        h5.application = "openmm-cgml"
        h5.forcefield = " + ".join(molecule.forcefield)
        h5.randomState = str(settings.seed)
        times = settings.save_interval_ps * np.arange(1, len(xyz) + 1)
        h5.write(coordinates=xyz, time=times)


# ---- many runs: a dataset folder with dataset.json, run in parallel processes --------------------

DATASET_FILE = "dataset.json"
# The standard polymer benchmark: 48 sequences of 20 monomers, 10 ns each, a frame every 2 ps.
STANDARD_POLYMERS = dict(sequences=48, length=20, seed=2026, production_ps=10000.0, save_interval_ps=2.0,
                         equilibration_ps=200.0, platform="CPU")
# The fidelity benchmark: held-out chains with independent replicas each (benchmark_polymer_jobs), on
# the Reference platform (faster than CPU for one 60-particle chain: no threads to synchronise).
BENCHMARK_POLYMERS = dict(length=20, seed=7001, save_interval_ps=2.0, equilibration_ps=200.0, platform="Reference",
                          production_ps=16000.0, splits={"validation": dict(sequences=16, replicas=4, production_ps=10000.0),
                                                         "test": dict(sequences=16, replicas=4, production_ps=16000.0)})


@dataclass(frozen=True)
class Job:
    """One trajectory to run: ``kind`` 'polymer' (source = sequence) or 'pdb' (source = file, run in
    ``environment`` at ``temperature_k``: ``peptides.load``); ``production_ps``, when given, replaces
    the run settings' length for this job."""
    name: str
    kind: str
    source: str
    seed: int
    production_ps: float | None = None
    environment: str = "gbn2"
    temperature_k: float = 300.0


def build(job: Job) -> MolecularSystem:
    if job.kind == "polymer":
        return polymers.build(job.source, job.seed)
    return peptides.load(job.source, environment=job.environment, temperature_k=job.temperature_k)


def benchmark_polymer_jobs(preset: dict | None = None) -> tuple[list[Job], dict[str, list[str]]]:
    """The fidelity benchmark's chains: new sequences drawn like the standard ones (and none of
    them), each run as independent replicas named SEQUENCE-rI, split by sequence into the preset's
    splits, each with its own number of sequences, replicas and run length."""
    preset = preset or BENCHMARK_POLYMERS
    standard = set(polymers.random_sequences(STANDARD_POLYMERS["sequences"], STANDARD_POLYMERS["length"],
                                             STANDARD_POLYMERS["seed"]))
    wanted = sum(split["sequences"] for split in preset["splits"].values())
    drawn = polymers.random_sequences(wanted + len(standard), preset["length"], preset["seed"])
    sequences = iter([s for s in dict.fromkeys(drawn) if s not in standard])
    jobs, splits = [], {}
    for name, split in preset["splits"].items():
        splits[name] = []
        for i in range(split["sequences"]):
            sequence = next(sequences)
            for r in range(split["replicas"]):
                job = Job(f"{sequence}-r{r}", "polymer", sequence, preset["seed"] + 1000 * r + len(jobs), split["production_ps"])
                jobs.append(job)
                splits[name].append(job.name)
    return jobs, splits


def polymer_jobs(options: dict, extra_train: int = 0) -> tuple[list[Job], dict[str, list[str]]]:
    """A polymer dataset's runs, one per sequence (seed = options' seed + its index), split 4 : 1 : 1;
    ``extra_train`` more sequences are drawn after them from the same stream, skipping the fidelity
    benchmark's sequences, and join the train split only: the first sequences, their seeds and the
    validation and test splits are those of the dataset made without them."""
    if extra_train < 0:
        raise ValueError(f"extra train sequences must be >= 0, got {extra_train}")
    first = options["sequences"]
    count, held_out = first + extra_train, {job.source for job in benchmark_polymer_jobs()[0]} if extra_train else set()
    while True:  # draw on until enough new sequences avoid the benchmark's
        drawn = polymers.random_sequences(count, options["length"], options["seed"])
        extra = [s for s in drawn[first:] if s not in held_out][:extra_train]
        if len(extra) == extra_train:
            break
        count += extra_train - len(extra)
    splits = split_polymers(drawn[:first])
    splits["train"] = splits["train"] + extra
    return [Job(s, "polymer", s, options["seed"] + i) for i, s in enumerate(drawn) if i < first or s in extra], splits


def split_polymers(sequences: list[str]) -> dict[str, list[str]]:
    """Train / validation / test by sequence (4 : 1 : 1), never by frame."""
    n_held = max(1, len(sequences) // 6)
    if len(sequences) < 3:
        raise ValueError(f"a polymer dataset needs at least 3 sequences (train, validation, test), got {len(sequences)}")
    return {"train": sequences[: len(sequences) - 2 * n_held],
            "validation": sequences[len(sequences) - 2 * n_held: len(sequences) - n_held],
            "test": sequences[len(sequences) - n_held:]}


def generate(jobs: list[Job], splits: dict[str, list[str]], out_dir, settings: RunSettings, processes: int = 2,
             family: str = "polymers") -> dict:
    """Run every job (skipping complete ones, resuming partial ones) and write ``dataset.json`` last."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from tqdm import tqdm

    out_dir = Path(out_dir)
    (out_dir / "trajectories").mkdir(parents=True, exist_ok=True)
    (out_dir / DATASET_FILE).unlink(missing_ok=True)  # the dataset is incomplete until this is rewritten
    context = get_context("spawn")
    counter = context.Value("q", 0)
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, processes), mp_context=context, initializer=_init_worker,
                             initargs=(counter,)) as pool, \
            tqdm(total=sum(settings.equilibration_ps + (job.production_ps or settings.production_ps) for job in jobs),
                 unit="ps", desc=f"{len(jobs)} runs", smoothing=0.1) as bar:
        futures = [pool.submit(_run_job, job, str(out_dir / "trajectories"), settings) for job in jobs]
        while not all(f.done() for f in futures):
            time.sleep(0.5)
            bar.update(counter.value / 1e3 - bar.n)
        seconds = {job.name: f.result() for job, f in zip(jobs, futures)}
        bar.update(counter.value / 1e3 - bar.n)
    summary = {"family": family, "splits": splits, "settings": asdict(settings),
               "runs": {job.name: asdict(job) | {"wall_seconds": seconds[job.name]} for job in jobs},
               "wall_seconds": round(time.perf_counter() - started, 1)}
    write_atomically(out_dir / DATASET_FILE, lambda p: Path(p).write_text(json.dumps(summary, indent=1)))
    return summary


_COUNTER = None


def _init_worker(counter) -> None:
    global _COUNTER
    _COUNTER = counter


def _run_job(job: Job, out_dir: str, settings: RunSettings) -> float:
    """Runs in a worker process; returns the wall seconds of this job, set-up included, or when the
    run was already complete the seconds its run recorded (its steps and saving, without the second
    or so of set-up), so that a later ``generate`` over the same folder keeps the classical speed the
    benchmark reports."""
    if is_complete(out_dir, job.name):
        return float(json.loads((Path(out_dir) / f"{job.name}.json").read_text())["wall_seconds_last_session"])
    started = time.perf_counter()
    molecule = build(job)
    fs_per_step = molecule.timestep_ps * 1e3  # progress is counted in fs of simulated time

    def progress(steps):
        with _COUNTER.get_lock():
            _COUNTER.value += int(round(steps * fs_per_step))

    length = {"production_ps": job.production_ps} if job.production_ps else {}
    run(molecule, out_dir, job.name, RunSettings(**(asdict(settings) | {"seed": job.seed} | length)), progress)
    return round(time.perf_counter() - started, 2)
