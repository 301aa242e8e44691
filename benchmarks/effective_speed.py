"""Effective speed on the alanine-dipeptide kinetics benchmark (``openmm_cgml.benchmark.effective``).

For each ``cgml benchmark peptide`` results folder given (its ``cg_replicas.npz`` and
``results.json``), the wall time the CG side needs to estimate each observable to 5 % relative
standard error, the time classical MD needs (the split's classical replicas, all of them, at the
speed the dataset made them: one process per run, on its platform), and their ratio with a 95 %
interval.  Observables: the C7ax/alphaL population (phi's core states, the slow change) and the
helical-psi population (psi's core states, the fast one).  Stand-ins have no speed and are skipped.

    python benchmarks/effective_speed.py benchmarks/results/validation/peptide-vacuum-100ps \\
        benchmarks/results/validation/peptide-forcefield --out benchmarks/results/validation/effective-peptide.json
"""
import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from openmm_cgml.benchmark import effective, kinetics
from openmm_cgml.benchmark.peptide import backbone_quadruples
from openmm_cgml.benchmark.sources import classical_speed, dataset_molecules
from openmm_cgml.files import write_atomically


def observables(beads_list, molecule) -> dict[str, list[np.ndarray]]:
    """Per replica, 0/1 series of the observables (a frame before the first core visit counts 0)."""
    phi_q, psi_q = backbone_quadruples(molecule)
    out = {"population alphaL": [], "population helical psi": []}
    for beads in beads_list:
        phi = kinetics.dihedrals(beads, phi_q[:1])[:, 0]
        psi = kinetics.dihedrals(beads, psi_q[:1])[:, 0]
        out["population alphaL"].append((kinetics.core_states(phi) == 1).astype(float))
        out["population helical psi"].append((kinetics.core_states(psi, kinetics.PSI_CORES) == 1).astype(float))
    return out


def one_model(folder: Path, seed: int) -> dict:
    results = json.loads((folder / "results.json").read_text())
    replicas = folder / "cg_replicas.npz"
    saved = np.load(replicas, allow_pickle=False)
    molecule = dataset_molecules(results["data"], results["split"], results["mapping"],
                                 results["settings"]["discard_ps"])[0]
    md_speed, cg_speed = classical_speed(results["data"], molecule), results["summary"]["cg_ns_per_wall_s"]
    md = observables([r.beads for r in molecule.replicas], molecule)
    cg = observables(list(saved["beads"]), molecule)
    figures = {}
    for name in md:
        t_md = effective.time_to_precision(md[name], molecule.replicas[0].interval_ps, md_speed, seed=seed)
        t_cg = effective.time_to_precision(cg[name], float(saved["interval_ps"]), cg_speed, seed=seed + 1)
        figures[name] = effective.speedup(t_md, t_cg)
    return {"results": str(folder / "results.json"), "model": results["model"],
            "replicas_sha256": hashlib.sha256(replicas.read_bytes()).hexdigest(), "data": results["data"],
            "split": results["split"], "md_ns_per_wall_s": md_speed, "cg_ns_per_wall_s": cg_speed,
            "cg_replicas": int(saved["beads"].shape[0]), "md_replicas": len(molecule.replicas), "figures": figures}


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
            print(f"{Path(m['results']).parent.name}: {name}: t_MD/t_CG {f['value']:.3g} [{f['low']:.3g}, {f['high']:.3g}] "
                  f"(MD {f['md_wall_s']:.3g} s, CG {f['cg_wall_s']:.3g} s; mean CG {f['cg_mean']:.3f} vs MD "
                  f"{f['md_mean']:.3f}, z {f['bias_z']:.1f})")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
