"""Long CG runs of many alanine-dipeptide copies at once: state populations against MD's
(``openmm_cgml.benchmark.equilibrium``).

The copies start from classical frames of the split spread evenly through its runs, run together in
one System (IndependentMolecules), and their alphaL and helical-psi populations and beta -> alphaL
rate are compared with the classical runs of the split and of the other splits given (more classical
time, same Hamiltonian), each with a bootstrap interval; the first and second halves of the copies'
runs tell whether the model keeps MD's equilibrium or drifts away from it.  One step from MD's own
histories (windows whose newest frame is in beta) tells whether the model's jump into alphaL is
too rare in its one-step distribution or only in its own runs.  A validation-split
diagnostic for choosing samplers: never run it on the test split.  Writes results.json and
populations.png to --out.

    python benchmarks/peptide_equilibrium.py --model out/peptide-vacuum-100ps-aligned-large-x4.pt \\
        --data data/alanine-vacuum-x4 --copies 128 --length-ns 20 \\
        --out benchmarks/results/validation/equilibrium/x4
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from openmm_cgml.benchmark import equilibrium
from openmm_cgml.files import write_atomically

STATISTICS = (("population_alphaL", "alphaL population"), ("population_helical_psi", "helical-psi population"),
              ("rate_beta_to_alphaL_per_ns", "beta -> alphaL per ns in beta"),
              ("slowest_timescale_lag4_ns", "slowest timescale at 4 steps (ns)"))


def side_label(side: str) -> str:
    return {"cg": "CG", "cg_first_half": "CG, first half", "cg_second_half": "CG, second half"}.get(
        side, side.replace("md_", "MD, ") + " split")


def lines(summary: dict) -> list[str]:
    """One line per statistic and side, and the Ramachandran JS against each MD reference."""
    out = [f"CG: {summary['copies']} copies x {summary['steps_per_copy']} steps of {summary['step_ps']:g} ps "
           f"({summary['cg_ns']:.0f} ns, {summary['cg_ns_per_wall_s']:.2f} ns per wall second in all); MD: "
           + ", ".join(f"{split} {ns:.0f} ns" for split, ns in summary["md_ns"].items())]
    for key, label in STATISTICS:
        for side, values in summary["sides"].items():
            v = values[key]
            out.append(f"{label:32s} {side_label(side):22s} {v['value']:.4g} [{v['low']:.4g}, {v['high']:.4g}]")
    for split, js in summary["ramachandran_js_bits"].items():
        out.append(f"Ramachandran JS, CG vs MD {split} split (bits): {js:.3f}")
    for split, jumps in summary.get("one_step_jumps", {}).items():
        out.append(f"one step from MD's {split} histories in beta ({jumps['beta_windows']} windows): next frame in "
                   f"alphaL, MD {jumps['md']:.4f}, model {jumps['cg']:.4f} ({jumps['samples_per_window']} samples each)")
    return out


def plot(summary: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sides = list(summary["sides"])
    fig, axes = plt.subplots(1, len(STATISTICS), figsize=(4.2 * len(STATISTICS), 3.6))
    for ax, (key, label) in zip(axes, STATISTICS):
        values = [summary["sides"][s][key] for s in sides]
        y = np.array([v["value"] for v in values])
        err = np.array([[v["value"] - v["low"], v["high"] - v["value"]] for v in values]).T
        colors = ["tab:orange" if s.startswith("cg") else "tab:blue" for s in sides]
        ax.bar(range(len(sides)), y, yerr=np.clip(err, 0, None), color=colors, capsize=3)
        ax.set_xticks(range(len(sides)), [side_label(s) for s in sides], rotation=35, ha="right", fontsize=8)
        ax.set_title(label, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="bundle (cgml export) with united-atom beads")
    parser.add_argument("--data", required=True, help="alanine-dipeptide dataset (cgml reference pdb)")
    parser.add_argument("--split", default="validation", choices=["validation", "train"],
                        help="where the copies start (the test split is the final benchmark's alone)")
    parser.add_argument("--reference-splits", nargs="*", default=["train"],
                        help="more classical runs to compare with (default: train)")
    parser.add_argument("--copies", type=int, default=128)
    parser.add_argument("--length-ns", type=float, default=20.0, help="simulated time per copy")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the batched step")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--one-step-every", type=int, default=40,
                        help="one step from MD's histories: a window every N frames of each split (0: skip)")
    parser.add_argument("--one-step-samples", type=int, default=4, help="model samples per window of that check")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if "test" in args.reference_splits:
        parser.error("the test split is read only by the final benchmark (cgml benchmark peptide --split test)")
    results = equilibrium.run(args.model, args.data, args.split, tuple(args.reference_splits), args.copies,
                              args.length_ns, args.seed, args.threads, args.bootstrap,
                              one_step_every=args.one_step_every, one_step_samples=args.one_step_samples)
    results["command"] = "python benchmarks/" + " ".join([Path(sys.argv[0]).name] + (sys.argv[1:] if argv is None else argv))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=1) + "\n"
    write_atomically(out / "results.json", lambda tmp: Path(tmp).write_text(text))
    plot(results["summary"], out / "populations.png")
    print("\n".join(lines(results["summary"])))
    print(f"wrote {out / 'results.json'} and {out / 'populations.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
