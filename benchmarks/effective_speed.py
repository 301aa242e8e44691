"""Effective speed on the fidelity benchmark's saved runs (``openmm_cgml.benchmark.effective``).

For each ``cgml benchmark peptide|polymer`` results folder given (its results.json and the CG
replicas it saved), the wall time the CG side needs to estimate each observable to 5 % relative
standard error, the time classical MD needs (the split's classical replicas, all of them, at the
speed the dataset made them: one process per run, on its platform), and their ratio with a 95 %
interval.  Peptide observables: the C7ax/alphaL population (phi's core states, the slow change)
and the helical-psi population (psi's core states, the fast one).  Polymer observable: the mean Rg
of each sequence; the summary is the median ratio over sequences (95 % bootstrap over sequences)
and the share of sequences whose CG mean is off MD's by more than two joint standard errors.

    python benchmarks/effective_speed.py benchmarks/results/validation/peptide-vacuum-100ps \\
        benchmarks/results/validation/peptide-forcefield --out benchmarks/results/validation/effective-peptide.json
    python benchmarks/effective_speed.py benchmarks/results/validation/polymer --out benchmarks/results/validation/effective-polymer.json
"""
import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from openmm_cgml import analysis
from openmm_cgml.benchmark import effective, estimators, kinetics
from openmm_cgml.benchmark.peptide import angles
from openmm_cgml.benchmark.sources import classical_speed, dataset_molecules, load_replicas
from openmm_cgml.files import write_atomically


def observables(replicas, molecule) -> dict[str, list[np.ndarray]]:
    """Per replica, 0/1 series of the observables (a frame before the first core visit counts 0)."""
    out = {"population alphaL": [], "population helical psi": []}
    for phi, psi in angles(replicas, molecule):
        out["population alphaL"].append((kinetics.core_states(phi) == 1).astype(float))
        out["population helical psi"].append((kinetics.core_states(psi, kinetics.PSI_CORES) == 1).astype(float))
    return out


def sides(md: list, md_interval_ps: float, md_ns_per_wall_s: float, cg: list, cg_interval_ps: float,
          cg_ns_per_wall_s: float, seed: int) -> dict:
    """``effective.speedup`` of one observable's MD and CG series."""
    return effective.speedup(effective.time_to_precision(md, md_interval_ps, md_ns_per_wall_s, seed=seed),
                             effective.time_to_precision(cg, cg_interval_ps, cg_ns_per_wall_s, seed=seed + 1))


def one_model(folder: Path, seed: int) -> dict:
    results = json.loads((folder / "results.json").read_text())
    if "stand_in" in results["model"]:
        raise SystemExit(f"{folder}: a stand-in has no speed of its own")
    return (peptide_model if results["benchmark"] == "peptide" else polymer_model)(folder, results, seed)


def polymer_model(folder: Path, results: dict, seed: int) -> dict:
    """Per sequence, t_MD / t_CG of its mean Rg; the median over sequences with a bootstrap interval."""
    per_sequence, hashes = {}, hashlib.sha256()
    for name, figures in results["per_sequence"].items():
        path = folder / "cg_replicas" / f"{name}.npz"
        hashes.update(path.read_bytes())
        replicas = load_replicas(path)
        molecule = dataset_molecules(results["data"], results["split"], results["mapping"],
                                     results["equilibration"]["discard_ps"], only={name})[0]
        md = [analysis.radius_of_gyration(r.beads, molecule.masses) for r in molecule.replicas]
        check_same_data(folder, results, name, md, figures)
        cg = [analysis.radius_of_gyration(r.beads, molecule.masses) for r in replicas]
        md_speed = classical_speed(results["data"], molecule)  # as the peptide's: the dataset's record, not the results'
        if md_speed is None:
            raise SystemExit(f"{results['data']}: the dataset records no wall time for the runs of {name}; "
                             "run its cgml reference command again over the folder (complete runs are kept)")
        per_sequence[name] = sides(md, molecule.replicas[0].interval_ps, md_speed,
                                   cg, replicas[0].interval_ps, figures["cg_ps_per_wall_s"] / 1e3, seed)
    ratios = np.array([f["value"] for f in per_sequence.values()])
    rng = np.random.default_rng(seed)
    draws = [np.median(ratios[rng.integers(ratios.size, size=ratios.size)]) for _ in range(1000)]
    low, high = np.quantile(draws, [0.025, 0.975])
    summary = {"value": float(np.median(ratios)), "low": float(low), "high": float(high),
               "md_wall_s": float(np.median([f["md_wall_s"] for f in per_sequence.values()])),
               "cg_wall_s": float(np.median([f["cg_wall_s"] for f in per_sequence.values()])),
               "biased_share": float(np.mean([abs(f["bias_z"]) > 2 for f in per_sequence.values()])),
               "sequences": len(ratios)}
    return {"results": str(folder / "results.json"), "model": results["model"], "replicas_sha256": hashes.hexdigest(),
            "data": results["data"], "split": results["split"], "figures": {"mean Rg (median over sequences)": summary},
            "per_sequence": per_sequence}


def check_same_data(folder: Path, results: dict, name: str, md_rg: list, figures: dict) -> None:
    """Stop where the dataset's classical runs are not those the benchmark run compared with (the data
    regenerated since): its CG replicas started from the old runs, and their figures would be read
    against others.  Half B's mean Rg, recorded by the run, is recomputed from the dataset's Rg series
    ``md_rg`` (one per classical replica, in the dataset's order)."""
    mean = float(np.concatenate(estimators.split_halves(md_rg)[1]).mean())
    recorded = figures["rg_mean_nm"]["b"]
    if not np.isclose(mean, recorded, rtol=1e-9, atol=0.0):
        raise SystemExit(f"{folder}: {results['data']} is not the data this run was measured on: half B of {name} has mean "
                         f"Rg {mean:.6f} nm there, the run recorded {recorded:.6f} nm (regenerated since?)")


def peptide_model(folder: Path, results: dict, seed: int) -> dict:
    path = folder / "cg_replicas.npz"
    replicas = load_replicas(path)
    molecule = dataset_molecules(results["data"], results["split"], results["mapping"],
                                 results["settings"]["discard_ps"])[0]
    md_speed, cg_speed = classical_speed(results["data"], molecule), results["summary"]["cg_ns_per_wall_s"]
    md, cg = observables(molecule.replicas, molecule), observables(replicas, molecule)
    figures = {name: sides(md[name], molecule.replicas[0].interval_ps, md_speed, cg[name], replicas[0].interval_ps,
                           cg_speed, seed) for name in md}
    return {"results": str(folder / "results.json"), "model": results["model"],
            "replicas_sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "data": results["data"],
            "split": results["split"], "md_ns_per_wall_s": md_speed, "cg_ns_per_wall_s": cg_speed,
            "cg_replicas": len(replicas), "md_replicas": len(molecule.replicas), "figures": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="cgml benchmark peptide --out folders")
    parser.add_argument("--out", type=Path, required=True, help="results JSON to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    models = [one_model(folder, args.seed) for folder in args.folders]
    splits = {m["split"] for m in models}
    if len(splits) != 1:
        raise SystemExit(f"the results folders mix splits {sorted(splits)}")
    results = {"command": "python benchmarks/" + " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
               "split": splits.pop(), "relative_se": effective.RELATIVE_SE, "blocks": effective.N_BLOCKS,
               "models": models}
    write_atomically(args.out, lambda p: Path(p).write_text(json.dumps(results, indent=1)))
    for m in models:
        for name, f in m["figures"].items():
            offset = (f"mean CG {f['cg_mean']:.3f} vs MD {f['md_mean']:.3f}, z {f['bias_z']:.1f}" if "bias_z" in f
                      else f"{100 * f['biased_share']:.0f} % of {f['sequences']} sequences off by |z| > 2")
            print(f"{Path(m['results']).parent.name}: {name}: t_MD/t_CG {f['value']:.3g} [{f['low']:.3g}, {f['high']:.3g}] "
                  f"(MD {f['md_wall_s']:.3g} s, CG {f['cg_wall_s']:.3g} s; {offset})")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
