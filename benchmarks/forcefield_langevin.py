"""Choose the CG force field's Langevin time step and friction on validation data, then export it.

The force field gives forces only; how fast its beads move is set by the Langevin friction, and how
long a step can be by its stiffest terms.  Both are chosen here on the validation split of the
fidelity benchmark's data (short runs from where the classical replicas start), never on test:

1. time step: the longest candidate whose mean bond length, mean Rg and bond-length JS against the
   shortest candidate's runs stay within the tolerances below (a step too long heats and stretches);
2. friction: at that step, a mobility over MD's for each candidate friction; the friction where its
   log crosses zero (interpolated in log friction) is chosen.  The mobility is the bead MSD at
   100 ps for chains (``--benchmark polymer``: what sets their relaxation), and the rate of psi's
   core-to-core transitions for peptides (``--benchmark peptide``: a molecule in vacuum diffuses
   as a whole at whatever rate MD's thermostat sets, and its dihedrals' mean squared change is
   already at its plateau after a picosecond, so neither tells friction apart; psi's change, some
   60 a nanosecond in MD at 600 K, is a barrier crossing whose rate falls as friction rises, and
   short runs count enough of them; phi's, the benchmark's slow kinetics, stays a test).

Polymer runs start from one validation replica of each of ``--chains`` sequences; peptide runs from
the starts of the molecule's validation replicas (``--chains`` copies, cycling over them).
Writes a results JSON (every candidate's figures, the choice, the command) and the force-field file.

    python benchmarks/forcefield_langevin.py --checkpoint out/ff-polymer/best.pt --out out/ff-polymer/forcefield.pt
    python benchmarks/forcefield_langevin.py --benchmark peptide --checkpoint out/ff-alanine/best.pt \
        --out out/ff-alanine/forcefield.pt
"""
import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from openmm_cgml import analysis
from openmm_cgml.benchmark import estimators
from openmm_cgml.benchmark.sources import dataset_molecules, split_sources
from openmm_cgml.files import write_atomically
from openmm_cgml.forcefield.export import export_forcefield

LAG_PS = 100.0           # bead MSD lag of the polymers' mobility
MOBILITY = {"polymer": f"bead MSD at {LAG_PS:g} ps", "peptide": "psi transitions per ns"}
RESULTS = {"polymer": "benchmarks/results/validation/forcefield-langevin.json",
           "peptide": "benchmarks/results/validation/forcefield-langevin-peptide.json"}
DEFAULTS = {"polymer": {"data": "data/polymers-benchmark", "timesteps_ps": [0.02, 0.04, 0.05, 0.08], "chains": 4,
                        "frictions": [5.0, 10.0, 20.0],
                        "length_ps": 400.0, "interval_ps": 4.0, "discard_ps": 2000.0},
            "peptide": {"data": "data/alanine-vacuum", "timesteps_ps": [0.002, 0.0025, 0.004, 0.005], "chains": 8,
                        "frictions": [1.0, 2.0, 5.0, 10.0, 20.0],
                        "length_ps": 100.0, "interval_ps": 1.0, "discard_ps": 0.0}}
BOND_TOLERANCE = 0.01     # relative change of the mean bond length
RG_TOLERANCE = 0.03       # relative change of the mean Rg (short runs: Rg is noisy)
JS_TOLERANCE = 0.01       # bits, bond-length distribution against the shortest step's


def mobility(beads, interval_ps: float, molecule, kind: str) -> float:
    """Bead MSD (nm²) at the polymer lag, or psi transitions per ns (core to core) of the peptide."""
    if kind == "polymer":
        return float(estimators.msd_at_lags(beads, interval_ps, (LAG_PS,))[0])
    from openmm_cgml.benchmark import kinetics
    from openmm_cgml.benchmark.peptide import angles
    from openmm_cgml.benchmark.sources import Replica

    (_, psi), = angles([Replica(beads, interval_ps, "force field")], molecule)
    states = kinetics.core_states(psi, kinetics.PSI_CORES)
    return float(kinetics.transition_counts(states).sum() / (len(beads) * interval_ps) * 1e3)


def run_one(path: str, kind: str, data: str, source: str, replicas: list, length_ps: float, interval_ps: float,
            discard_ps: float, seed: int) -> list[dict]:
    """Worker: force-field runs (one System) from where some validation replicas start; their figures, and MD's."""
    import torch

    from openmm_cgml.forcefield.system import forcefield_metadata, simulate

    torch.set_num_threads(1)
    molecule = dataset_molecules(data, "validation", forcefield_metadata(path)["mapping"], discard_ps, only={source})[0]
    n = len(molecule.replicas)
    copies, wall = simulate(path, molecule.topology, molecule.system, [molecule.starts[r % n] for r in replicas],
                            length_ps, interval_ps, seed, "CPU", molecule.mapping)
    md = float(np.mean([mobility(r.beads, r.interval_ps, molecule, kind) for r in molecule.replicas]))
    return [{"source": source, "replica": r % n, "wall_s": wall / len(replicas),
             "bond_lengths": analysis.bond_lengths(beads, molecule.bonds).ravel().tolist(),
             "rg_nm": float(analysis.radius_of_gyration(beads, molecule.masses).mean()),
             "mobility": mobility(beads, interval_ps, molecule, kind), "md_mobility": md}
            for r, beads in zip(replicas, copies)]


def runs_of(checkpoint, friction, timestep, args, folder: Path, pool) -> list[dict]:
    path = export_forcefield(checkpoint, folder / f"g{friction:g}-dt{timestep:g}.pt", friction, timestep)
    sources = split_sources(args.data, "validation")
    if args.benchmark == "polymer":
        jobs = [(source, [0]) for source in sources[: args.chains]]
    else:  # one molecule: its copies in one System per process
        jobs = [(sources[0], list(range(args.chains))[p::args.processes]) for p in range(args.processes)]
    futures = [pool.submit(run_one, str(path), args.benchmark, args.data, source, replicas, args.length_ps,
                           args.interval_ps, args.discard_ps, args.seed + i) for i, (source, replicas) in enumerate(jobs)]
    return [row for f in futures for row in f.result()]


def summary(runs: list[dict], reference: list[dict] | None, kind: str) -> dict:
    """Figures of one candidate's runs.  The mobility ratio is the median over chains of each chain's
    ratio (polymers), or the copies' mean over MD's (a peptide: one molecule, and a copy counts a few
    transitions, so per-copy ratios are too coarse for a median)."""
    bonds = np.concatenate([r["bond_lengths"] for r in runs])
    ratio = (np.median([r["mobility"] / r["md_mobility"] for r in runs]) if kind == "polymer"
             else np.mean([r["mobility"] for r in runs]) / runs[0]["md_mobility"])
    out = {"mean_bond_nm": float(bonds.mean()), "mean_rg_nm": float(np.mean([r["rg_nm"] for r in runs])),
           "mobility_ratio": float(ratio),
           "wall_s": float(sum(r["wall_s"] for r in runs))}
    if reference is not None:
        ref_bonds = np.concatenate([r["bond_lengths"] for r in reference])
        out["bond_js_bits_vs_shortest"] = analysis.distribution_js(bonds, ref_bonds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="cgml forcefield train's best.pt")
    parser.add_argument("--benchmark", choices=sorted(DEFAULTS), default="polymer", help="the benchmark the force field is for")
    parser.add_argument("--data", help="only its validation split is read (default: the benchmark's dataset)")
    parser.add_argument("--out", required=True, help="force-field file to write with the chosen settings")
    parser.add_argument("--results", help="results JSON (default: benchmarks/results/validation/forcefield-langevin"
                                          "[-peptide].json)")
    parser.add_argument("--timesteps-ps", type=float, nargs="+")
    parser.add_argument("--frictions", type=float, nargs="+")
    parser.add_argument("--first-friction", type=float, default=10.0, help="friction of the time-step runs, 1/ps")
    parser.add_argument("--chains", type=int, help="validation sequences (one run each), or copies of the peptide")
    parser.add_argument("--length-ps", type=float)
    parser.add_argument("--interval-ps", type=float)
    parser.add_argument("--discard-ps", type=float, help="equilibration left out of the MD runs")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    args.results = args.results or RESULTS[args.benchmark]
    for key, value in DEFAULTS[args.benchmark].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder, \
            ProcessPoolExecutor(args.processes, mp_context=get_context("spawn")) as pool:
        folder = Path(folder)
        steps = sorted(args.timesteps_ps)
        reference = runs_of(args.checkpoint, args.first_friction, steps[0], args, folder, pool)
        rows = [{"timestep_ps": steps[0], **summary(reference, reference, args.benchmark)}]
        for dt in steps[1:]:
            rows.append({"timestep_ps": dt, **summary(runs_of(args.checkpoint, args.first_friction, dt, args, folder, pool),
                                                      reference, args.benchmark)})
        base = rows[0]
        stable = [r for r in rows if abs(r["mean_bond_nm"] / base["mean_bond_nm"] - 1) <= BOND_TOLERANCE
                  and abs(r["mean_rg_nm"] / base["mean_rg_nm"] - 1) <= RG_TOLERANCE
                  and r["bond_js_bits_vs_shortest"] <= JS_TOLERANCE]
        timestep = max(r["timestep_ps"] for r in stable) if stable else steps[0]
        frictions = []
        for gamma in sorted(args.frictions):
            frictions.append({"friction_per_ps": gamma, **summary(runs_of(args.checkpoint, gamma, timestep, args, folder, pool), None,
                                                                  args.benchmark)})
    g = np.log([r["friction_per_ps"] for r in frictions])
    m = np.log([r["mobility_ratio"] for r in frictions])
    slope, intercept = np.polyfit(g, m, 1)  # log mobility ratio against log friction: a line where diffusion dominates
    friction = float(np.exp(-intercept / slope)) if slope < 0 else float(args.first_friction)
    friction = float(np.clip(friction, min(args.frictions) / 2, max(args.frictions) * 2))
    path = export_forcefield(args.checkpoint, args.out, round(friction, 2), timestep)
    results = {"command": "python benchmarks/" + " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
               "split": "validation", "benchmark": args.benchmark, "data": args.data, "checkpoint": args.checkpoint,
               "settings": {"chains": args.chains, "length_ps": args.length_ps, "interval_ps": args.interval_ps,
                            "discard_ps": args.discard_ps, "mobility": MOBILITY[args.benchmark], "tolerances": {
                                "bond": BOND_TOLERANCE, "rg": RG_TOLERANCE, "bond_js_bits": JS_TOLERANCE}},
               "timesteps": rows, "chosen_timestep_ps": timestep, "frictions": frictions,
               "fit": {"slope": float(slope), "intercept": float(intercept)}, "chosen_friction_per_ps": round(friction, 2),
               "forcefield": str(path), "wall_s": round(time.perf_counter() - started, 1)}
    write_atomically(Path(args.results), lambda p: Path(p).write_text(json.dumps(results, indent=1)))
    for row in rows:
        print(f"step {row['timestep_ps']} ps: bond {row['mean_bond_nm']:.4f} nm, Rg {row['mean_rg_nm']:.3f} nm, "
              f"bond JS vs shortest {row['bond_js_bits_vs_shortest']:.4f} bits, mobility ratio {row['mobility_ratio']:.2f}")
    for row in frictions:
        print(f"friction {row['friction_per_ps']}/ps: {MOBILITY[args.benchmark]} over MD's {row['mobility_ratio']:.2f}")
    print(f"chosen: time step {timestep} ps, friction {friction:.2f}/ps; wrote {path} and {args.results}")


if __name__ == "__main__":
    main()
