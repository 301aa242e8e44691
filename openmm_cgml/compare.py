"""CG integrator against classical MD on the same system (and, optionally, a learned CG force field):
``compare`` and ``cgml compare``.

Both runs start from the same state in the same Context: a ``CompoundIntegrator`` holds the
``CGMLIntegrator`` (0) and a ``LangevinMiddleIntegrator`` (1).  The classical run goes first, the
Context is put back to the starting state, the CG run follows, and then the CG end state is handed
back to atoms (``handoff``) and continued classically, to check the hand-off holds.  Instead of the
classical run's frames, a stored reference trajectory (any file mdtraj reads whose atoms match the
System) can serve as the classical side; a short classical run still measures the classical speed.

Frames are bead centres (nm).  Classical frames are taken every round(CG step / MD step) steps, so
both series have (nearly) the same frame interval.  Speeds count only the time spent in ``step``.
Settings are a ``CompareSettings``.  The report (``report.md``, ``report.json``, PNG plots, written
by ``report``) goes to the output folder; metrics are those of ``analysis`` (Rg, Rg² ACF relaxation times, bead-distance, bond and angle distributions with
Jensen–Shannon divergences in bits, MSD without removing the centre of mass, collision counts).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import openmm
import openmm.unit as unit
from tqdm import tqdm

from . import platforms
from .bundle import load_bundle, rotation_free, save_bundle
from .features import atom_bonds
from .forcefield.system import forcefield_metadata, simulate
from .handoff import HandoffError, handoff
from .integrator import create_integrator
from .mapping import BeadMapping
from .report import BeadRun, clean, markdown, metrics
from .standins import BondedDiffusion

TIME_STAMPED = (".h5", ".hdf5", ".xtc", ".trr", ".nc", ".ncdf", ".netcdf")  # formats mdtraj reads times from


def load_reference(path, topology, mapping: BeadMapping, interval_ps: float | None = None) -> BeadRun:
    """Bead centres of a stored trajectory; its atoms must match ``topology`` one to one.

    ``interval_ps`` (ps between frames) is read from the file's time stamps for formats that store
    them (HDF5, XTC, TRR, NetCDF) and must be given for the others.
    """
    import mdtraj

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reference trajectory '{path}' does not exist")
    try:
        if path.suffix.lower() in (".h5", ".hdf5", ".pdb", ".cif", ".gro"):
            traj = mdtraj.load(str(path))
        else:
            traj = mdtraj.load(str(path), top=mdtraj.Topology.from_openmm(topology))
    except Exception as error:  # mdtraj raises many kinds; name the file and the cause
        _check_atoms(path, _atom_count(path), mapping.n_atoms)
        raise ValueError(f"cannot read reference trajectory '{path}': {error}") from None
    _check_atoms(path, traj.n_atoms, mapping.n_atoms)
    if interval_ps is None:
        if path.suffix.lower() not in TIME_STAMPED or traj.n_frames < 2 or not traj.timestep > 0:
            raise ValueError(f"reference trajectory '{path}': give the time between frames (reference_interval_ps, "
                             f"--reference-interval-ps); the file does not store usable time stamps")
        interval_ps = float(traj.timestep)
    if traj.n_frames < 2:
        raise ValueError(f"reference trajectory '{path}' has {traj.n_frames} frame; at least 2 are needed")
    return BeadRun(mapping.centres(traj.xyz.astype(np.float64)), float(interval_ps), f"reference ({path.name})")


def _check_atoms(path, found: int | None, expected: int) -> None:
    if found is not None and found != expected:
        raise ValueError(f"reference trajectory '{path}' has {found} atoms but the System has {expected}; "
                         f"it must be a trajectory of this very system")


def _atom_count(path) -> int | None:
    """Atoms per frame of a trajectory file read without a topology, or None if that fails."""
    import mdtraj

    try:
        with mdtraj.open(str(path)) as handle:
            return int(np.shape(handle.read(n_frames=1)[0])[1])
    except Exception:
        return None


@dataclass(frozen=True)
class CompareSettings:
    """How ``compare`` runs the two sides.  Times in ps, temperature in K, friction in 1/ps.

    ``md_steps`` defaults to the CG run's simulated time (or 1000 steps, only to time the classical
    speed, when a stored ``reference`` trajectory is the classical side); ``reference_interval_ps``
    is needed for trajectory formats without time stamps.  ``collision_percentile``: percentile of
    the classical side's non-bonded bead distances used as the collision threshold.
    """

    cg_steps: int = 100
    md_steps: int | None = None
    md_timestep_ps: float = 0.002
    temperature_k: float = 300.0
    friction_per_ps: float = 1.0
    reference: str | None = None
    reference_interval_ps: float | None = None
    platform: str | None = None  # None: CUDA when present, otherwise CPU
    seed: int = 1
    handoff_steps: int = 500
    bins: int = 50
    collision_percentile: float = 0.0
    minimize: bool = True
    progress: bool = True

    @classmethod
    def for_molecule(cls, molecule, **settings) -> "CompareSettings":
        """Settings with the classical step, temperature and friction a prepared system is meant to
        run with (``systems.MolecularSystem``), unless given."""
        given = {name: value for name, value in settings.items() if value is not None}
        return cls(**({"md_timestep_ps": molecule.timestep_ps, "temperature_k": molecule.temperature_k,
                        "friction_per_ps": molecule.friction_per_ps} | given))


def _check_forcefield(path, topology, system, mapping: BeadMapping) -> None:
    """A clear error unless ``path`` is a force field whose own bead mapping is the integrator's."""
    metadata = forcefield_metadata(path)
    if metadata is None:
        raise ValueError(f"'{path}' is not a force-field file (written by cgml forcefield export)")
    own = BeadMapping.create(metadata["mapping"], topology, system)
    if list(own.bead_of_atom) != list(mapping.bead_of_atom):
        raise ValueError(f"the force field '{path}' maps atoms to beads by '{metadata['mapping']}' ({own.n_beads} beads), "
                         f"the integrator's beads differ ({mapping.n_beads} beads): train the force field with the "
                         f"bundle's mapping")


def compare(system, topology, positions, bundle, settings: CompareSettings = CompareSettings(),
            mapping: BeadMapping | None = None, out_dir="out/compare", forcefield=None) -> dict:
    """Run CG and classical dynamics from one start, write the report to ``out_dir``, return report.json's dict.

    ``mapping`` defaults to the one the bundle was trained with (``create_integrator``).  With a
    ``forcefield`` file (``cgml forcefield``), a third side runs that CG force field from the same
    start for as long as the CG run, a frame every CG step (``forcefield.system.simulate``).
    """
    s = settings
    if s.cg_steps < 2:
        raise ValueError(f"compare: cg_steps must be at least 2, got {s.cg_steps}")
    cg = create_integrator(bundle, topology, system, mapping=mapping)  # checks sizes, bundle and mapping
    mapping = BeadMapping.of_integrator(cg, system)
    if forcefield is not None:
        _check_forcefield(forcefield, topology, system, mapping)
    stored = None
    if s.reference is not None:
        stored = load_reference(s.reference, topology, mapping, s.reference_interval_ps)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    cg.setRandomNumberSeed(s.seed)
    cg_dt = cg.getStepSize().value_in_unit(unit.picosecond)
    md = openmm.LangevinMiddleIntegrator(s.temperature_k, s.friction_per_ps, s.md_timestep_ps)
    md.setRandomNumberSeed(s.seed)
    compound = openmm.CompoundIntegrator()
    compound.addIntegrator(cg)
    compound.addIntegrator(md)
    platform = s.platform or platforms.default()
    context = openmm.Context(system, compound, openmm.Platform.getPlatformByName(platform))
    context.setPositions(positions)
    if s.minimize:
        compound.setCurrentIntegrator(1)
        openmm.LocalEnergyMinimizer.minimize(context)
    context.setVelocitiesToTemperature(s.temperature_k, s.seed)
    start = context.getState(getPositions=True, getVelocities=True)

    frame_steps = max(1, round(cg_dt / s.md_timestep_ps))
    md_steps = s.md_steps if s.md_steps is not None else (1000 if stored is not None else s.cg_steps * frame_steps)
    compound.setCurrentIntegrator(1)
    classical = _record(context, compound, md_steps, frame_steps, s.md_timestep_ps, mapping, "classical", s.progress)
    context.setState(start)
    compound.setCurrentIntegrator(0)
    learned = _record(context, compound, s.cg_steps, 1, cg_dt, mapping, "CG", s.progress)
    field = None
    if forcefield is not None:
        start_xyz = start.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        (beads,), wall = simulate(forcefield, topology, system, [start_xyz], s.cg_steps * cg_dt, cg_dt, s.seed,
                                  platform, mapping)
        field = BeadRun(np.concatenate([mapping.centres(start_xyz)[None], beads]), cg_dt, "CG force field",
                        s.cg_steps * cg_dt, wall)

    compound.setCurrentIntegrator(1)
    try:
        result = handoff(context, mapping, temperature_k=s.temperature_k, seed=s.seed).as_dict()
    except HandoffError as error:  # the CG side of the report stands; the hand-off is marked failed
        result = {"failed": True, "reason": str(error), "stable": False}
    else:
        try:
            compound.step(s.handoff_steps)
            energy = context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        except openmm.OpenMMException as error:  # e.g. NaN coordinates: the classical steps after the hand-off failed
            result.update(failed=True, reason=f"the classical steps after the hand-off failed: {error}", stable=False)
        else:
            result.update(failed=False, classical_steps_after=s.handoff_steps, potential_energy_after_steps=energy,
                          stable=bool(math.isfinite(energy)))

    side = stored if stored is not None else classical
    bonds = mapping.bead_bonds(atom_bonds(topology))
    report = metrics(learned, side, mapping.bead_masses(), bonds, s.bins, s.collision_percentile, out, field)
    report["speed"] = {"cg_ns_per_s": learned.ns_per_s, "classical_ns_per_s": classical.ns_per_s,
                       "ratio": learned.ns_per_s / classical.ns_per_s,
                       "cg_step_ps": cg_dt, "md_step_ps": s.md_timestep_ps, "platform": platform}
    if field is not None:
        report["speed"] |= {"forcefield_ns_per_s": field.ns_per_s, "forcefield_ratio": field.ns_per_s / classical.ns_per_s,
                            "forcefield_step_ps": forcefield_metadata(forcefield)["timestep_ps"]}
    report["handoff"] = result
    report["system"] = {"atoms": mapping.n_atoms, "beads": mapping.n_beads, "bead_bonds": [list(b) for b in bonds],
                        "bundle": str(bundle), "rotation_free": rotation_free(load_bundle(bundle)[1]),
                        "reference": None if stored is None else str(s.reference),
                        "forcefield": None if forcefield is None else str(forcefield),
                        "temperature_k": s.temperature_k, "seed": s.seed}
    report["settings"] = asdict(s)
    report = clean(report)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    (out / "report.md").write_text(markdown(report))
    return report


def _record(context, integrator, steps, frame_steps, dt_ps, mapping, label, progress) -> BeadRun:
    """Step ``steps`` (whole frames of ``frame_steps``), keeping bead centres of the start and every frame."""
    n_frames = max(1, steps // frame_steps)
    frames = [mapping.centres(context.getState(getPositions=True).getPositions(asNumpy=True))]
    wall = 0.0
    for _ in tqdm(range(n_frames), desc=f"{label} ({n_frames * frame_steps} steps)", disable=not progress, leave=False):
        tic = time.perf_counter()
        integrator.step(frame_steps)
        wall += time.perf_counter() - tic
        frames.append(mapping.centres(context.getState(getPositions=True).getPositions(asNumpy=True)))
    return BeadRun(np.array(frames), frame_steps * dt_ps, label, n_frames * frame_steps * dt_ps, wall)


def standin_bundle(topology, positions, mapping: BeadMapping, path, timestep_ps: float = 1.0) -> Path:
    """Write the BondedDiffusion stand-in, springs at the start structure's mean bead bond length (nm)."""
    start = mapping.centres(positions)
    bonds = mapping.bead_bonds(atom_bonds(topology))
    rest = float(np.mean([np.linalg.norm(start[i] - start[j]) for i, j in bonds])) if bonds else 0.38
    return save_bundle(BondedDiffusion(rest_nm=rest, timestep_ps=timestep_ps), path,
                       {"kind": "analytic stand-in", "model": "BondedDiffusion", "rest_nm": rest})
