"""Choose the CG force field's Langevin time step and friction on validation data, then export it.

The force field gives forces only; how fast its beads move is set by the Langevin friction, and how
long a step can be by its stiffest terms.  Both are chosen here on the validation split of the
fidelity benchmark's data (short runs from where the classical replicas start), never on test:

1. time step: the longest candidate whose mean bond length, mean Rg and bond-length JS against the
   shortest candidate's runs stay within the tolerances below (a step too long heats and stretches);
2. friction: at that step, the bead MSD at 100 ps over MD's, for each candidate friction; the
   friction where its log crosses zero (interpolated in log friction) is chosen.

Writes a results JSON (every candidate's figures, the choice, the command) and the force-field file.

    python benchmarks/forcefield_langevin.py --checkpoint out/ff-polymer/best.pt --out out/ff-polymer/forcefield.pt
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

MSD_LAG_PS = 100.0
BOND_TOLERANCE = 0.01     # relative change of the mean bond length
RG_TOLERANCE = 0.03       # relative change of the mean Rg (short runs: Rg is noisy)
JS_TOLERANCE = 0.01       # bits, bond-length distribution against the shortest step's


def run_one(path: str, data: str, source: str, replica: int, length_ps: float, interval_ps: float, discard_ps: float,
            seed: int) -> dict:
    """Worker: one force-field run from where one validation replica starts; its figures, and MD's."""
    import torch

    from openmm_cgml.forcefield.system import simulate

    torch.set_num_threads(1)
    molecule = dataset_molecules(data, "validation", "residue", discard_ps, only={source})[0]
    (beads,), wall = simulate(path, molecule.topology, molecule.system, [molecule.starts[replica]], length_ps,
                              interval_ps, seed, "CPU", molecule.mapping)
    md = molecule.replicas[replica]
    return {"source": source, "replica": replica, "wall_s": wall,
            "bond_lengths": analysis.bond_lengths(beads, molecule.bonds).ravel().tolist(),
            "rg_nm": float(analysis.radius_of_gyration(beads, molecule.masses).mean()),
            "msd_nm2": float(estimators.msd_at_lags(beads, interval_ps, (MSD_LAG_PS,))[0]),
            "md_msd_nm2": float(np.mean([estimators.msd_at_lags(r.beads, r.interval_ps, (MSD_LAG_PS,))[0]
                                         for r in molecule.replicas]))}


def runs_of(checkpoint, friction, timestep, args, folder: Path, pool) -> list[dict]:
    path = export_forcefield(checkpoint, folder / f"g{friction:g}-dt{timestep:g}.pt", friction, timestep)
    sources = split_sources(args.data, "validation")[: args.chains]
    futures = [pool.submit(run_one, str(path), args.data, source, 0, args.length_ps, args.interval_ps, args.discard_ps,
                           args.seed + i) for i, source in enumerate(sources)]
    return [f.result() for f in futures]


def summary(runs: list[dict], reference: list[dict] | None) -> dict:
    bonds = np.concatenate([r["bond_lengths"] for r in runs])
    out = {"mean_bond_nm": float(bonds.mean()), "mean_rg_nm": float(np.mean([r["rg_nm"] for r in runs])),
           "msd_ratio": float(np.median([r["msd_nm2"] / r["md_msd_nm2"] for r in runs])),
           "wall_s": float(sum(r["wall_s"] for r in runs))}
    if reference is not None:
        ref_bonds = np.concatenate([r["bond_lengths"] for r in reference])
        out["bond_js_bits_vs_shortest"] = analysis.distribution_js(bonds, ref_bonds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="cgml forcefield train's best.pt")
    parser.add_argument("--data", default="data/polymers-benchmark", help="only its validation split is read")
    parser.add_argument("--out", required=True, help="force-field file to write with the chosen settings")
    parser.add_argument("--results", default="benchmarks/results/validation/forcefield-langevin.json")
    parser.add_argument("--timesteps-ps", type=float, nargs="+", default=[0.02, 0.04, 0.05, 0.08])
    parser.add_argument("--frictions", type=float, nargs="+", default=[5.0, 10.0, 20.0])
    parser.add_argument("--first-friction", type=float, default=10.0, help="friction of the time-step runs, 1/ps")
    parser.add_argument("--chains", type=int, default=4, help="validation sequences (one run each)")
    parser.add_argument("--length-ps", type=float, default=400.0)
    parser.add_argument("--interval-ps", type=float, default=4.0)
    parser.add_argument("--discard-ps", type=float, default=2000.0, help="equilibration left out of the MD runs")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder, \
            ProcessPoolExecutor(args.processes, mp_context=get_context("spawn")) as pool:
        folder = Path(folder)
        steps = sorted(args.timesteps_ps)
        reference = runs_of(args.checkpoint, args.first_friction, steps[0], args, folder, pool)
        rows = [{"timestep_ps": steps[0], **summary(reference, reference)}]
        for dt in steps[1:]:
            rows.append({"timestep_ps": dt, **summary(runs_of(args.checkpoint, args.first_friction, dt, args, folder, pool),
                                                      reference)})
        base = rows[0]
        stable = [r for r in rows if abs(r["mean_bond_nm"] / base["mean_bond_nm"] - 1) <= BOND_TOLERANCE
                  and abs(r["mean_rg_nm"] / base["mean_rg_nm"] - 1) <= RG_TOLERANCE
                  and r["bond_js_bits_vs_shortest"] <= JS_TOLERANCE]
        timestep = max(r["timestep_ps"] for r in stable) if stable else steps[0]
        frictions = []
        for gamma in sorted(args.frictions):
            frictions.append({"friction_per_ps": gamma, **summary(runs_of(args.checkpoint, gamma, timestep, args, folder, pool), None)})
    g = np.log([r["friction_per_ps"] for r in frictions])
    m = np.log([r["msd_ratio"] for r in frictions])
    slope, intercept = np.polyfit(g, m, 1)  # log MSD ratio against log friction: a line where diffusion dominates
    friction = float(np.exp(-intercept / slope)) if slope < 0 else float(args.first_friction)
    friction = float(np.clip(friction, min(args.frictions) / 2, max(args.frictions) * 2))
    path = export_forcefield(args.checkpoint, args.out, round(friction, 2), timestep)
    results = {"command": "python benchmarks/" + " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
               "split": "validation", "data": args.data, "checkpoint": args.checkpoint,
               "settings": {"chains": args.chains, "length_ps": args.length_ps, "interval_ps": args.interval_ps,
                            "discard_ps": args.discard_ps, "msd_lag_ps": MSD_LAG_PS, "tolerances": {
                                "bond": BOND_TOLERANCE, "rg": RG_TOLERANCE, "bond_js_bits": JS_TOLERANCE}},
               "timesteps": rows, "chosen_timestep_ps": timestep, "frictions": frictions,
               "fit": {"slope": float(slope), "intercept": float(intercept)}, "chosen_friction_per_ps": round(friction, 2),
               "forcefield": str(path), "wall_s": round(time.perf_counter() - started, 1)}
    write_atomically(Path(args.results), lambda p: Path(p).write_text(json.dumps(results, indent=1)))
    for row in rows:
        print(f"step {row['timestep_ps']} ps: bond {row['mean_bond_nm']:.4f} nm, Rg {row['mean_rg_nm']:.3f} nm, "
              f"bond JS vs shortest {row['bond_js_bits_vs_shortest']:.4f} bits, MSD ratio {row['msd_ratio']:.2f}")
    for row in frictions:
        print(f"friction {row['friction_per_ps']}/ps: MSD at {MSD_LAG_PS:g} ps over MD's {row['msd_ratio']:.2f}")
    print(f"chosen: time step {timestep} ps, friction {friction:.2f}/ps; wrote {path} and {args.results}")


if __name__ == "__main__":
    main()
