"""Where a polymer benchmark's bond-length and bond-angle JS come from: quantiles of both distributions,
CG against MD, read from the results folders of ``cgml benchmark polymer``.

For each folder the CG side is every replica of ``cg_replicas/`` (all repeats), the MD side every
classical replica of the same split read every CG step, both after the equilibration the benchmark
discarded (its results.json).  Pooled over the split's sequences it prints the mean, standard
deviation and the 1, 5, 50, 95 and 99 % quantiles, and each tail's mass beyond MD's 1 % and 99 %
quantiles (0.01 for a perfect model); a heavy low tail of bond angles means beads two bonds apart
come closer than in MD.  Writes local-structure.json and local-structure.png (the histograms of MD and
of each folder, with the low tails magnified) into ``--out``.

    python benchmarks/local_structure.py benchmarks/results/validation/polymer-l64-c15-repeats4 ... \\
        --data data/polymers-benchmark --out benchmarks/results/validation/local-structure
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from openmm_cgml.benchmark.polymer import local_samples
from openmm_cgml.benchmark.sources import dataset_molecules, load_replicas, replay

QUANTILES = (0.01, 0.05, 0.5, 0.95, 0.99)


def samples(replicas, molecule) -> dict:
    """Bond lengths (nm) and bond angles (degrees) of every frame of ``replicas``."""
    local = local_samples(replicas, molecule.bonds)
    return {"bond_lengths_nm": local["bond_lengths"], "bond_angles_deg": np.degrees(local["bond_angles"])}


def summary(values: np.ndarray, md: np.ndarray) -> dict:
    low, high = np.quantile(md, [0.01, 0.99])
    return {"mean": float(values.mean()), "std": float(values.std()),
            "quantiles": {f"{q:g}": float(v) for q, v in zip(QUANTILES, np.quantile(values, QUANTILES))},
            "mass_below_md_1pc": float((values < low).mean()), "mass_above_md_99pc": float((values > high).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="results folders of cgml benchmark polymer (same split and data)")
    parser.add_argument("--data", default="data/polymers-benchmark")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    runs = [json.loads((Path(folder) / "results.json").read_text()) for folder in args.results]
    split, mapping = runs[0]["split"], runs[0]["mapping"]
    discard = float(runs[0]["equilibration"]["discard_ps"])
    if any(r["split"] != split or r["mapping"] != mapping or float(r["equilibration"]["discard_ps"]) != discard
           for r in runs):
        sys.exit("local_structure.py: the results folders differ in split, bead mapping or discarded equilibration")
    molecules = dataset_molecules(args.data, split, mapping, discard)
    pooled = {"md": {}, **{folder: {} for folder in args.results}}
    for molecule in molecules:
        cg = {}
        for folder in args.results:
            files = sorted((Path(folder) / "cg_replicas").glob(f"{molecule.name}*.npz"))
            if not files:
                sys.exit(f"local_structure.py: {folder}/cg_replicas has no replicas of {molecule.name}")
            cg[folder] = [r for f in files for r in load_replicas(f)]
        # MD read every CG step, as the benchmark reads its half A (the CG replicas' frame interval).
        parts = {"md": samples(replay(molecule.replicas, cg[args.results[0]][0].interval_ps), molecule)}
        parts |= {folder: samples(replicas, molecule) for folder, replicas in cg.items()}
        for side, values in parts.items():
            for key, array in values.items():
                pooled[side].setdefault(key, []).append(array)
    pooled = {side: {key: np.concatenate(arrays) for key, arrays in values.items()} for side, values in pooled.items()}
    report = {"command": "python benchmarks/" + " ".join([Path(sys.argv[0]).name] + sys.argv[1:]), "split": split,
              "discard_ps": discard, "sequences": len(molecules), "figures": {}}
    for key in ("bond_lengths_nm", "bond_angles_deg"):
        md = pooled["md"][key]
        report["figures"][key] = {side: summary(values[key], md) for side, values in pooled.items()}
        print(f"{key}: {'side':>48} {'mean':>8} {'std':>8} " + " ".join(f"q{q:g}".rjust(8) for q in QUANTILES)
              + "  <MD 1%  >MD 99%")
        for side, row in report["figures"][key].items():
            print(f"{'':>{len(key) + 1}} {Path(side).name[-48:]:>48} {row['mean']:8.4f} {row['std']:8.4f} "
                  + " ".join(f"{v:8.4f}" for v in row["quantiles"].values())
                  + f"  {row['mass_below_md_1pc']:.4f}  {row['mass_above_md_99pc']:.4f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "local-structure.json").write_text(json.dumps(report, indent=1) + "\n")
    plot(pooled, out / "local-structure.png")
    print(f"wrote {out / 'local-structure.json'} and {out / 'local-structure.png'}")


def plot(pooled: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for row, (key, label) in enumerate((("bond_lengths_nm", "bond length (nm)"), ("bond_angles_deg", "bond angle (degrees)"))):
        md = pooled["md"][key]
        edges = np.linspace(md.min(), md.max(), 61)
        low = np.linspace(md.min(), np.quantile(md, 0.05), 31)
        for side, values in pooled.items():
            name = "MD" if side == "md" else Path(side).name
            style = {"color": "black", "lw": 2} if side == "md" else {"lw": 1}
            axes[row, 0].hist(values[key], edges, density=True, histtype="step", label=name, **style)
            axes[row, 1].hist(values[key], low, density=True, histtype="step", label=name, **style)
        axes[row, 0].set_xlabel(label)
        axes[row, 1].set_xlabel(label + ", below MD's 5 % quantile")
        axes[row, 0].set_ylabel("density")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
