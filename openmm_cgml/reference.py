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

from .files import write_atomically
from .systems import MolecularSystem

METADATA_VERSION = 1


@dataclass(frozen=True)
class RunSettings:
    production_ps: float
    save_interval_ps: float
    equilibration_ps: float = 100.0
    seed: int = 1
    platform: str | None = None  # None: CUDA when present, otherwise CPU
    chunk_frames: int = 500


def default_platform() -> str:
    names = [openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]
    return "CUDA" if "CUDA" in names else "CPU"


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
    platform = settings.platform or default_platform()
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


@dataclass(frozen=True)
class Job:
    """One trajectory to run: ``kind`` 'polymer' (source = sequence) or 'pdb' (source = file)."""
    name: str
    kind: str
    source: str
    seed: int


def build(job: Job) -> MolecularSystem:
    from .systems import peptides, polymers

    return polymers.build(job.source, job.seed) if job.kind == "polymer" else peptides.load(job.source)


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
            tqdm(total=len(jobs) * (settings.equilibration_ps + settings.production_ps), unit="ps", desc=f"{len(jobs)} runs", smoothing=0.1) as bar:
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
    """Runs in a worker process; returns the wall seconds of this job (0 when already complete)."""
    started = time.perf_counter()
    molecule = build(job)
    fs_per_step = molecule.timestep_ps * 1e3  # progress is counted in fs of simulated time

    def progress(steps):
        with _COUNTER.get_lock():
            _COUNTER.value += int(round(steps * fs_per_step))

    run(molecule, out_dir, job.name, RunSettings(**(asdict(settings) | {"seed": job.seed})), progress)
    return round(time.perf_counter() - started, 2)


def add_cli(commands) -> None:
    parser = commands.add_parser("reference", help="classical OpenMM reference trajectories (mdtraj HDF5)")
    kinds = parser.add_subparsers(dest="kind", required=True)
    polymers = kinds.add_parser("polymers", help="the sequence-defined polymer family, split by sequence")
    polymers.add_argument("--standard", action="store_true",
                          help=f"the standard benchmark: {STANDARD_POLYMERS} (other options are ignored)")
    polymers.add_argument("--sequences", type=int, default=6, help="number of sequences (train:val:test 4:1:1)")
    polymers.add_argument("--length", type=int, default=20, help="monomers per chain")
    pdb = kinds.add_parser("pdb", help="a peptide from a PDB file (pdbfixer, amber14 + GBn2); runs split by seed")
    pdb.add_argument("file")
    pdb.add_argument("--runs", type=int, default=3, help="independent runs (train:val:test by run)")
    for sub in (polymers, pdb):
        sub.add_argument("--out", required=True, help="dataset folder")
        sub.add_argument("--production-ps", type=float, default=2000.0)
        sub.add_argument("--save-interval-ps", type=float, default=2.0)
        sub.add_argument("--equilibration-ps", type=float, default=100.0)
        sub.add_argument("--seed", type=int, default=1)
        sub.add_argument("--platform", default=None, help="OpenMM platform (default: CUDA when present, else CPU)")
        sub.add_argument("--processes", type=int, default=2, help="runs in parallel")
    parser.set_defaults(func=_main)


def _main(args) -> int:
    if args.kind == "polymers":
        from .systems import polymers

        options = dict(sequences=args.sequences, length=args.length, seed=args.seed, production_ps=args.production_ps,
                       save_interval_ps=args.save_interval_ps, equilibration_ps=args.equilibration_ps,
                       platform=args.platform)
        if args.standard:
            options = STANDARD_POLYMERS
        sequences = polymers.random_sequences(options["sequences"], options["length"], options["seed"])
        jobs = [Job(s, "polymer", s, options["seed"] + i) for i, s in enumerate(sequences)]
        splits = split_polymers(sequences)
        seed = options["seed"]
    else:
        path = Path(args.file)
        if not path.is_file():
            raise SystemExit(f"cgml reference pdb: PDB file '{path}' does not exist")
        if args.runs < 2:
            raise SystemExit("cgml reference pdb: --runs must be at least 2 (train and validation runs)")
        options = vars(args)
        names = [f"{path.stem}-run{i}" for i in range(args.runs)]
        jobs = [Job(n, "pdb", str(path.resolve()), args.seed + i) for i, n in enumerate(names)]
        splits = {"train": names[:-2] or names[:1], "validation": names[-2:-1], "test": names[-1:]}
        seed = args.seed
    settings = RunSettings(production_ps=options["production_ps"], save_interval_ps=options["save_interval_ps"],
                           equilibration_ps=options["equilibration_ps"], seed=seed, platform=options["platform"])
    summary = generate(jobs, splits, args.out, settings, args.processes,
                       "polymers" if args.kind == "polymers" else "pdb")
    print(f"{len(jobs)} runs in {summary['wall_seconds']:.0f} s -> {args.out}/{DATASET_FILE}")
    return 0
