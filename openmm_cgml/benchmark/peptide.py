"""The alanine-dipeptide kinetics benchmark: Ramachandran distribution, metastable states, rates,
mean first-passage times and Markov-model timescales of CG rollouts against classical replicas.

Beads are united atoms (``BeadMapping.united_atom``), so phi and psi are read from bead positions.
As in the polymer benchmark, the classical replicas are split into halves A and B; every CG figure
compares CG with B, and its ceiling compares A with B by the same estimator.  Kinetic figures are
ratios (CG / B, and A / B for the ceiling) with 95 % intervals from resampling whole replicas of
both sides.  Kinetics are read at the CG step: classical frames are taken every CG step, so both
sides see the same time resolution (a visit to a state shorter than the step can be missed by both).
"""
from __future__ import annotations

import numpy as np

from . import estimators, kinetics
from .sources import (Molecule, Replica, cg_side, classical_speed, dataset_molecules, model_settings, replay,
                      save_replicas, split_fingerprint)

LAG_MULTIPLES = (1, 2, 4)        # Markov-model lags, in CG steps
GRID = 6                         # phi/psi grid of the Markov model (GRID x GRID cells)
REPLAY_STEP_PS = 1000.0          # the CG step of the stand-ins
MIN_TRANSITIONS = 20             # transitions a kinetic figure needs to be judged at all


def backbone_quadruples(molecule: Molecule) -> tuple[list[tuple], list[tuple]]:
    """Bead quadruples of phi (C-N-CA-C) and psi (N-CA-C-N) of every residue that has both."""
    bead = molecule.mapping.bead_of_atom
    residues = list(molecule.topology.residues())
    atom = [{a.name: bead[a.index] for a in r.atoms()} for r in residues]
    phi, psi = [], []
    for i in range(1, len(residues) - 1):
        if all(k in atom[i] for k in ("N", "CA", "C")) and "C" in atom[i - 1] and "N" in atom[i + 1]:
            phi.append((atom[i - 1]["C"], atom[i]["N"], atom[i]["CA"], atom[i]["C"]))
            psi.append((atom[i]["N"], atom[i]["CA"], atom[i]["C"], atom[i + 1]["N"]))
    if not phi:
        raise ValueError(f"backbone_quadruples: '{molecule.name}' has no residue with both phi and psi")
    if len({b for q in (phi[0], psi[0]) for b in q}) < 5:
        raise ValueError("backbone_quadruples: the beads must resolve the backbone atoms (use the united-atom mapping)")
    return phi, psi


def angles(replicas: list[Replica], molecule: Molecule) -> list[tuple[np.ndarray, np.ndarray]]:
    """(phi, psi) of the first residue, per replica, radians."""
    phi_q, psi_q = backbone_quadruples(molecule)
    return [(kinetics.dihedrals(r.beads, phi_q[:1])[:, 0], kinetics.dihedrals(r.beads, psi_q[:1])[:, 0]) for r in replicas]


def slowest_timescales(dihedral_list, interval_ps: float) -> dict:
    """{"slowest_timescale_lag{m}_ns"}: the slowest implied timescale of the Markov model on the phi/psi
    grid (GRID x GRID cells) at each lag of LAG_MULTIPLES CG steps, pooled over replicas."""
    grid = [kinetics.grid_states(phi, psi, GRID) for phi, psi in dihedral_list]
    return {f"slowest_timescale_lag{m}_ns": 1e-3 * float(kinetics.implied_timescales_ps(grid, m, interval_ps, 1)[0])
            for m in LAG_MULTIPLES}


def kinetic_statistics(dihedral_list, interval_ps: float) -> dict:
    """Per side: populations, rates, MFPTs and Markov-model timescales, pooled over replicas."""
    states = [kinetics.core_states(phi) for phi, _ in dihedral_list]
    rates = kinetics.rates_per_ps(states, interval_ps)
    mfpt = kinetics.mean_first_passage_ps(states, interval_ps)
    return {"population_alphaL": float(kinetics.populations(states)[1]),
            "rate_beta_to_alphaL_per_ns": 1e3 * float(rates[0, 1]),
            "rate_alphaL_to_beta_per_ns": 1e3 * float(rates[1, 0]),
            "mfpt_beta_to_alphaL_ns": 1e-3 * float(mfpt[0, 1]),
            "mfpt_alphaL_to_beta_ns": 1e-3 * float(mfpt[1, 0]),
            **slowest_timescales(dihedral_list, interval_ps),
            "transitions": int(kinetics.transition_counts(states).sum())}


def _ratios(side, truth, side_interval_ps, truth_interval_ps, n_boot, seed) -> dict:
    """statistic(side) / statistic(truth) for every kinetic statistic, each with a 95 % interval from
    resampling both sides' replicas with replacement."""
    def ratio(a, b):
        x, y = kinetic_statistics(a, side_interval_ps), kinetic_statistics(b, truth_interval_ps)
        return {key: x[key] / y[key] if y[key] else float("nan") for key in x if key != "transitions"}

    rng = np.random.default_rng(seed)
    value = ratio(side, truth)
    draws = [ratio([side[i] for i in rng.integers(len(side), size=len(side))],
                   [truth[i] for i in rng.integers(len(truth), size=len(truth))]) for _ in range(n_boot)]
    return {key: {**figure, "n": len(side)} for key, figure in estimators.keyed_intervals(value, draws).items()}


def figures(cg: list[Replica], molecule: Molecule, step_ps: float, n_boot: int = 200, seed: int = 0) -> dict:
    a_reps, b_reps = estimators.split_halves(molecule.replicas)
    # Half A is read every CG step, so that it has as many frames as the CG side (JS divergences grow
    # as samples shrink); half B, the reference, keeps every frame.
    full = {"cg": angles(cg, molecule), "a": angles(replay(a_reps, step_ps), molecule), "b": angles(b_reps, molecule)}
    # Kinetics at the CG step: classical frames every step; CG frames as they come (a stand-in
    # played S times too slowly labels its frames S steps apart).
    stepped = {"cg": full["cg"], "a": full["a"], "b": angles(replay(b_reps, step_ps), molecule)}
    interval = {"cg": cg[0].interval_ps, "a": step_ps, "b": step_ps}

    def pooled(side):
        return np.concatenate([p for p, _ in full[side]]), np.concatenate([q for _, q in full[side]])

    ratios = {side: _ratios(stepped[side], stepped["b"], interval[side], step_ps, n_boot, seed) for side in ("cg", "a")}
    out = {"ramachandran_js_bits": {side: kinetics.ramachandran_js(*pooled(side), *pooled("b")) for side in ("cg", "a")},
           "values": {side: kinetic_statistics(stepped[side], interval[side]) for side in stepped},
           "ratios": {key: {side: ratios[side][key] for side in ratios} for key in ratios["cg"]}, "ramachandran": {side: kinetics.ramachandran_histogram(*pooled(side)).tolist() for side in full},
           "step_ps": step_ps, "replicas": {side: len(full[side]) for side in full},
           "replica_length_ns": {"cg": cg[0].length_ps / 1e3, "md": molecule.replicas[0].length_ps / 1e3}}
    return out


def judgeable_steps(molecule: Molecule, steps_ps=(10.0, 100.0, 1000.0)) -> list[dict]:
    """Which CG steps the classical data can judge: at each step, the slowest implied timescale at a
    lag of one step (resolved when its eigenvalue exceeds 0.1, i.e. the timescale exceeds
    step / ln 10) and the beta -> alphaL mean first-passage time (resolved when it spans at least three
    steps), from all classical replicas read every step; neither is resolved with fewer than
    ``MIN_TRANSITIONS`` transitions seen at that step."""
    rows = []
    for step in steps_ps:
        values = kinetic_statistics(angles(replay(molecule.replicas, step), molecule), step)
        its, mfpt = values["slowest_timescale_lag1_ns"] * 1e3, values["mfpt_beta_to_alphaL_ns"] * 1e3
        enough = values["transitions"] >= MIN_TRANSITIONS
        rows.append({"step_ps": step, "slowest_timescale_ps": its, "mfpt_beta_to_alphaL_ps": mfpt,
                     "timescale_resolved": bool(enough and its > step / np.log(10.0)),
                     "mfpt_resolved": bool(enough and mfpt >= 3 * step),
                     "transitions": values["transitions"]})
    return rows


def run(model, data, split: str = "validation", platform: str = "CPU", seed: int = 1, discard_ps: float = 0.0,
        n_boot: int = 200, replay_step_ps: float | None = None, segments: int = 1, processes: int = 1,
        replicas_out=None) -> dict:
    """The kinetics benchmark of ``model`` (bundle, force-field file, or 'replay' / 'replay:S'
    stand-ins) on one split; ``segments`` and ``processes``: see ``sources.forcefield_side``; the CG
    replicas are written to ``replicas_out`` (``save_replicas``) when given."""
    molecule = dataset_molecules(data, split, "united-atom", discard_ps)[0]
    cg, step = cg_side(model, molecule, seed, platform, replay_step_ps or REPLAY_STEP_PS, segments, processes,
                       progress=True)
    if replicas_out is not None:
        save_replicas(cg, replicas_out)
    result = figures(cg, molecule, step, n_boot, seed)
    wall = sum(r.wall_s for r in cg)
    result["cg_ns_per_wall_s"] = float(sum(r.length_ps for r in cg) / 1e3 / wall) if np.isfinite(wall) else None
    result["md_ns_per_wall_s"] = classical_speed(data, molecule)
    return {"benchmark": "peptide", "split": split, "data": str(data), "data_fingerprint": split_fingerprint(data, split),
            "mapping": "united-atom",
            "model": model_settings(model),
            "settings": {"seed": seed, "platform": platform, "bootstrap_resamples": n_boot, "discard_ps": discard_ps,
                         "forcefield_segments": segments,
                         "markov_lags_cg_steps": list(LAG_MULTIPLES), "grid": GRID,
                         "phi_cores_rad": [list(map(list, c)) for c in kinetics.PHI_CORES]},
            "molecule": molecule.name, "judgeable_steps": judgeable_steps(molecule), "summary": result}
