"""Long CG runs of many copies at once: does a peptide model keep MD's state populations?

The kinetics benchmark (``peptide``) gives the CG side as much simulated time as MD's half A, so that
a CG figure and its ceiling rest on equal data; at 100 ps steps that is a few hundred CG frames per
split, in which a state holding 5 % of the time is entered two or three times.  Whether a model
under-populates such a state, or was unlucky, those frames cannot say.  This diagnostic runs many
copies of the molecule in one System, advanced together by one CGMLIntegrator (IndependentMolecules),
each started from a classical frame of the split spread evenly through its runs (samples of MD's
equilibrium), and compares the copies' state populations with MD's, on the split's own runs and on
other splits' (more classical time, the same Hamiltonian).  A model that keeps MD's equilibrium keeps
its populations from the first half of its runs to the second; one that drifts away shows where it
goes.  Intervals: bootstrap 95 %, resampling copies (CG) and runs (MD).

``one_step_jumps`` asks the same of a single step from MD's own histories: of the split's windows
whose newest frame lies in beta's core, the share whose next frame (one CG step later) lies in
alphaL's, for MD and for the model's samples.  A model that jumps as often as MD from MD's
histories but not in its own runs suffers from exposure bias; one that jumps too rarely from MD's
histories has the wrong one-step distribution.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit

from ..data import read_dataset, read_run
from ..integrator import create_integrator
from ..mapping import BeadMapping
from . import estimators, kinetics
from .peptide import angles, slowest_timescales
from .sources import Molecule, Replica, bundle_settings, dataset_molecules, replay

SPACING_NM = 5.0   # copies sit on a line this far apart (no edges join them: IndependentMolecules)
WARMUP_STEPS = 3   # steps left out of the timing


def split_frames(data, split: str, copies: int) -> list[np.ndarray]:
    """Atom positions (nm) of ``copies`` classical frames of ``split``, spread evenly over its runs
    (copy c from run c mod runs, at evenly spaced frames of that run)."""
    dataset = read_dataset(data)
    names = dataset["splits"][split]
    if copies < 1:
        raise ValueError(f"split_frames: copies must be at least 1, got {copies}")
    per_run = [len(range(r, copies, len(names))) for r in range(len(names))]
    frames = [None] * copies
    for r, name in enumerate(names):
        if not per_run[r]:
            continue
        _, _, trajectory = read_run(Path(data) / "trajectories" / f"{name}.h5")
        picks = np.linspace(0, trajectory.n_frames - 1, per_run[r] + 1)[:-1].round().astype(int)
        for k, frame in enumerate(picks):
            frames[r + k * len(names)] = trajectory.xyz[frame].astype(np.float64)
    return frames


def copies_context(bundle, molecule: Molecule, starts: list[np.ndarray], seed: int, threads: int,
                   platform: str = "Reference"):
    """(integrator, context) of one System holding a copy of ``molecule`` at each of ``starts`` (atom
    positions, nm), each shifted to its own place on a line; particles and masses only (a CG step
    evaluates no forces)."""
    modeller = app.Modeller(app.Topology(), [])
    system = openmm.System()
    positions = []
    for c, start in enumerate(starts):
        x = np.asarray(start, dtype=np.float64)
        x = x - x.mean(0) + np.array([SPACING_NM * c, 0.0, 0.0])
        modeller.add(molecule.topology, x * unit.nanometer)
        for i in range(molecule.system.getNumParticles()):
            system.addParticle(molecule.system.getParticleMass(i))
        positions.append(x)
    mapping = BeadMapping.create(molecule.mapping.method, modeller.topology, system)
    integrator = create_integrator(bundle, modeller.topology, system, mapping=mapping, independent_molecules=True)
    integrator.setRandomNumberSeed(int(seed))
    integrator.setProperty("Threads", str(int(threads)))
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName(platform))
    context.setPositions(np.concatenate(positions))
    return integrator, context


def batched_rollouts(bundle, molecule: Molecule, starts: list[np.ndarray], n_steps: int, seed: int = 1,
                     threads: int = 1, platform: str = "Reference", progress: bool = False) -> list[Replica]:
    """``n_steps`` CG steps of every copy (``copies_context``), bead centres after each step; the wall
    time of the steps after the first ``WARMUP_STEPS`` (TorchScript optimises the step during its first
    calls), scaled to all steps, is shared equally among the copies."""
    from tqdm import tqdm

    integrator, context = copies_context(bundle, molecule, starts, seed, threads, platform)
    n_atoms = molecule.system.getNumParticles()
    frames = np.empty((len(starts), n_steps, molecule.mapping.n_beads, 3))
    wall = 0.0
    for i in tqdm(range(n_steps), desc=f"{len(starts)} copies", disable=not progress, leave=False):
        tic = time.perf_counter()
        integrator.step(1)
        wall += (time.perf_counter() - tic) if i >= WARMUP_STEPS else 0.0
        xyz = context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        frames[:, i] = molecule.mapping.centres(np.asarray(xyz).reshape(len(starts), n_atoms, 3))
    step_ps = integrator.getStepSize().value_in_unit(unit.picosecond)
    wall *= n_steps / max(n_steps - WARMUP_STEPS, 1)
    return [Replica(frames[c], step_ps, f"CG copy {c}", wall / len(starts)) for c in range(len(starts))]


def one_step_jumps(bundle, data, split: str = "validation", every: int = 20, samples: int = 4,
                   seed: int = 0) -> dict:
    """beta -> alphaL in one CG step from the classical histories of ``split`` (a window every ``every``
    frames, superposed as the model's training windows were): the share of MD's next frames in the
    alphaL core and of ``samples`` model samples per window (``Propagator.sample``, all windows at once)."""
    import torch

    from ..bundle import load_bundle
    from ..data import collate, load_windows
    from ..export import propagator_of
    from .peptide import backbone_quadruples

    module, metadata = load_bundle(bundle)
    if "model_config" not in metadata:
        raise ValueError(f"one_step_jumps: '{bundle}' is not a trained bundle (no model_config in its metadata)")
    model = propagator_of(module, metadata)
    windows = load_windows(data, split, model.history_length, model.timestep_ps, "united-atom", every,
                           bool((metadata.get("data") or {}).get("aligned")))
    phi_of = backbone_quadruples(dataset_molecules(data, split, "united-atom")[0])[0][:1]
    alpha_l = kinetics.PHI_CORES[1]

    def in_alpha_l(frames) -> np.ndarray:  # frames (W, n, 3)
        return kinetics.in_core(kinetics.dihedrals(frames, phi_of)[:, 0], alpha_l)

    batch = [windows[i] for i in range(len(windows))]
    newest = np.stack([w.history[-1].numpy() for w in batch])
    in_beta = kinetics.in_core(kinetics.dihedrals(newest, phi_of)[:, 0], kinetics.PHI_CORES[0])
    joined = collate([w for w, beta in zip(batch, in_beta) if beta])  # one disjoint graph of the beta windows
    n_windows, n = joined.n_graphs, batch[0].history.shape[1]
    embedding = model.embed(joined.atom_features, joined.atom_bonds, joined.bead_of_atom, joined.atom_masses)
    jumps = []
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _ in range(samples):
            x = model.sample(embedding, joined.history, joined.bead_bonds, joined.bead_graph)
            jumps.append(in_alpha_l(x.reshape(n_windows, n, 3).numpy()))
    md = in_alpha_l(joined.target.reshape(n_windows, n, 3).numpy())
    return {"windows": int(len(batch)), "beta_windows": int(n_windows), "samples_per_window": int(samples),
            "every_frames": int(every), "md": float(md.mean()), "cg": float(np.mean(jumps))}


def state_statistics(dihedral_list, interval_ps: float) -> dict:
    """Per side, pooled over trajectories: the alphaL population (phi cores), the helical-psi
    population (psi cores), the beta -> alphaL rate per ns spent in beta, and the slowest implied
    timescale of the kinetics benchmark's Markov model (its phi/psi grid) at each of its lags."""
    phi_states = [kinetics.core_states(phi) for phi, _ in dihedral_list]
    psi_states = [kinetics.core_states(psi, kinetics.PSI_CORES) for _, psi in dihedral_list]
    return {"population_alphaL": float(kinetics.populations(phi_states)[1]),
            "population_helical_psi": float(kinetics.populations(psi_states)[1]),
            "rate_beta_to_alphaL_per_ns": 1e3 * float(kinetics.rates_per_ps(phi_states, interval_ps)[0, 1]),
            **slowest_timescales(dihedral_list, interval_ps)}


def _with_interval(trajectories, interval_ps: float, n_boot: int, rng) -> dict:
    """state_statistics with a 95 % interval from resampling whole trajectories."""
    value = state_statistics(trajectories, interval_ps)
    draws = [state_statistics([trajectories[i] for i in rng.integers(len(trajectories), size=len(trajectories))],
                              interval_ps) for _ in range(n_boot)]
    return estimators.keyed_intervals(value, draws)


def figures(cg: list[Replica], references: dict[str, Molecule], step_ps: float, n_boot: int = 200,
            seed: int = 0) -> dict:
    """CG state statistics (all frames, first half, second half of every copy) beside those of each
    reference split's classical runs read every CG step, and the Ramachandran JS of CG against each."""
    rng = np.random.default_rng(seed)
    molecule = next(iter(references.values()))
    cg_angles = angles(cg, molecule)
    half = cg[0].beads.shape[0] // 2
    sides = {"cg": _with_interval(cg_angles, step_ps, n_boot, rng),
             "cg_first_half": _with_interval([(p[:half], q[:half]) for p, q in cg_angles], step_ps, n_boot, rng),
             "cg_second_half": _with_interval([(p[half:], q[half:]) for p, q in cg_angles], step_ps, n_boot, rng)}
    pooled_cg = [np.concatenate(a) for a in zip(*cg_angles)]
    js, md_ns = {}, {}
    for split, reference in references.items():
        md = angles(replay(reference.replicas, step_ps), reference)
        sides[f"md_{split}"] = _with_interval(md, step_ps, n_boot, rng)
        full = angles(reference.replicas, reference)
        js[split] = kinetics.ramachandran_js(*pooled_cg, *[np.concatenate(a) for a in zip(*full)])
        md_ns[split] = float(sum(r.length_ps for r in reference.replicas) / 1e3)
    return {"sides": sides, "ramachandran_js_bits": js, "md_ns": md_ns,
            "cg_ns": float(sum(r.length_ps for r in cg) / 1e3), "copies": len(cg), "steps_per_copy": cg[0].beads.shape[0],
            "step_ps": step_ps}


def run(model, data, split: str = "validation", reference_splits=("train",), copies: int = 64,
        length_ns: float = 20.0, seed: int = 1, threads: int = 1, n_boot: int = 200, progress: bool = True,
        one_step_every: int = 0, one_step_samples: int = 4) -> dict:
    """The diagnostic of ``model`` (a bundle) on ``split``: ``copies`` copies started from the split's
    classical frames, each ``length_ns`` long; MD references: ``split`` and ``reference_splits``; with
    ``one_step_every`` > 0, ``one_step_jumps`` on the split and on each reference split too."""
    from ..bundle import load_bundle

    step_ps = load_bundle(model)[0].timestep_ps
    n_steps = int(round(length_ns * 1e3 / step_ps))
    if n_steps < 2:
        raise ValueError(f"equilibrium: {length_ns} ns is under two CG steps of {step_ps} ps")
    references = {s: dataset_molecules(data, s, "united-atom")[0] for s in dict.fromkeys((split, *reference_splits))}
    starts = split_frames(data, split, copies)
    cg = batched_rollouts(model, references[split], starts, n_steps, seed, threads, progress=progress)
    result = figures(cg, references, step_ps, n_boot, seed)
    result["cg_ns_per_wall_s"] = float(result["cg_ns"] / (cg[0].wall_s * len(cg)))
    if one_step_every > 0:
        result["one_step_jumps"] = {s: one_step_jumps(model, data, s, one_step_every, one_step_samples, seed)
                                    for s in references}
    return {"benchmark": "peptide-equilibrium", "split": split, "data": str(data), "mapping": "united-atom",
            "model": bundle_settings(model),
            "settings": {"seed": seed, "copies": copies, "length_ns": length_ns, "threads": threads,
                         "platform": "Reference", "bootstrap_resamples": n_boot, "reference_splits": list(references),
                         "one_step_every_frames": one_step_every, "one_step_samples": one_step_samples,
                         "phi_cores_rad": [list(map(list, c)) for c in kinetics.PHI_CORES],
                         "psi_cores_rad": [list(map(list, c)) for c in kinetics.PSI_CORES]},
            "summary": result}
