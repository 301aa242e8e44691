"""Does a model tell chains apart? Per sequence, the size fluctuations of CG runs against the classical run, on training and held-out sequences.

For every sequence of the chosen splits of a standard dataset (one classical run each, ``cgml
reference polymers --standard``), the bundle is run inside OpenMM from the run's first kept frame for
as long as the run (``benchmark.sources.rollout``), and both are read at the CG step:

- mean Rg and the spread of Rg (sd) over the run;
- the decorrelation of Rg² in one CG step, 1 − ACF(one step) (``estimators.decorrelation_at``);
- τ(Rg²) by the 1/e crossing of the ACF (``analysis.times_from_acf``; NaN where it is not reached).

Across sequences, each CG figure is regressed on MD's on a log scale: a slope of 1 means the model
carries the chains' differences over (compact globules fluctuating little and fast, swollen coils much
and slowly); a slope below 1 means it pulls every chain towards the average chain.  Its ceiling is
the same slope between the two halves of each classical run.  Comparing the
training sequences with held-out ones separates a model that cannot represent the differences from
one that does not generalise them.  The classical side is a single run per sequence, so these are
figures with MD noise in them, not a ceiling-matched benchmark (``cgml benchmark polymer`` is that).
Intervals: 95 % bootstrap over sequences.  Writes results.json and sequence-spread.png.

    python benchmarks/sequence_spread.py --model openmm_cgml/models/polymer.pt \\
        --data data/polymers-standard --splits train validation --out benchmarks/results/validation/sequence-spread
"""
import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from openmm_cgml import analysis
from openmm_cgml.benchmark import estimators
from openmm_cgml.bundle import load_bundle
from openmm_cgml.benchmark.sources import (bundle_settings, choose_discard, dataset_molecules, model_mapping, replay,
                                           rollout, split_sources)
from openmm_cgml.files import write_atomically
from openmm_cgml.report import clean

FIGURES = ("rg_mean_nm", "rg_sd_nm", "decorrelation", "tau_efold_ps")


def figures_of(rg: np.ndarray, interval_ps: float) -> dict:
    """The per-sequence figures of one Rg series read every ``interval_ps`` (the CG step)."""
    acf = estimators.pooled_autocorrelation([rg ** 2])
    return {"rg_mean_nm": float(rg.mean()), "rg_sd_nm": float(rg.std()),
            "decorrelation": estimators.decorrelation_at(acf, interval_ps, interval_ps),
            "tau_efold_ps": analysis.times_from_acf(acf, interval_ps)["efold"]}


def summarise(rows: list[dict], n_boot: int, seed: int) -> dict:
    """Per figure: slope of log CG on log MD and median CG/MD ratio across ``rows``, with intervals, and
    the slope of MD's second half of each run on its first half: the ceiling, which the noise of runs
    half as long pulls below 1 (more than it pulls the CG slope, whose MD side is the whole run)."""
    out = {"sequences": len(rows)}

    def column(side, key):
        return np.array([r[side][key] for r in rows], dtype=float)

    for key in FIGURES:
        md, cg = column("md", key), column("cg", key)
        ratio = cg / md
        out[key] = {"slope": estimators.bootstrap_items(lambda i: estimators.log_slope(md[i], cg[i]), len(rows), n_boot, seed),
                    "median_ratio": estimators.bootstrap_items(lambda i: float(np.nanmedian(ratio[i])), len(rows), n_boot, seed)}
        if "md_first_half" in rows[0]:
            first, second = column("md_first_half", key), column("md_second_half", key)
            out[key]["ceiling_slope"] = estimators.bootstrap_items(lambda i: estimators.log_slope(first[i], second[i]),
                                                                   len(rows), n_boot, seed)
    return out


def one_sequence(model: str, data: str, split: str, mapping: str, discard_ps: float, source: str, seed: int) -> dict:
    import torch

    torch.set_num_threads(1)
    (molecule,) = dataset_molecules(data, split, mapping, discard_ps, only={source})
    run = molecule.replicas[0]
    masses = molecule.masses
    step = float(load_bundle(model)[1]["timestep_ps"])
    md = replay([run], step)[0]
    cg = rollout(model, molecule, molecule.starts[0], md.beads.shape[0], seed)
    rg = analysis.radius_of_gyration(md.beads, masses)
    half = rg.size // 2
    return {"sequence": molecule.name, "split": split, "frames": int(md.beads.shape[0]), "cg_step_ps": step,
            "cg_wall_s": cg.wall_s, "md": figures_of(rg, step),
            "md_first_half": figures_of(rg[:half], step), "md_second_half": figures_of(rg[half:], step),
            "cg": figures_of(analysis.radius_of_gyration(cg.beads, masses), step)}


def plot(rows: list[dict], splits: list[str], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    labels = {"rg_mean_nm": "mean Rg (nm)", "rg_sd_nm": "Rg spread, sd (nm)",
              "decorrelation": "Rg² decorrelation in one CG step", "tau_efold_ps": "τ(Rg²), 1/e (ps)"}
    fig, axes = plt.subplots(1, len(FIGURES), figsize=(4.1 * len(FIGURES), 3.9))
    colours = dict(zip(splits, ("tab:grey", "tab:red", "tab:blue", "tab:green")))
    for ax, key in zip(axes, FIGURES):
        every = []
        for split in splits:
            md = [r["md"][key] for r in rows if r["split"] == split]
            cg = [r["cg"][key] for r in rows if r["split"] == split]
            ax.scatter(md, cg, s=16, color=colours[split], label=split)
            every += [v for v in md + cg if v is not None and np.isfinite(v) and v > 0]
        lo, hi = min(every) * 0.8, max(every) * 1.25
        ax.plot([lo, hi], [lo, hi], color="black", lw=0.7)
        if key == "rg_mean_nm":  # less than a factor of 2: linear axes
            ax.set_xlabel(f"MD: {labels[key]}")
            ax.set_ylabel(f"CG: {labels[key]}")
            continue
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(ticker.FormatStrFormatter("%g"))
            axis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel(f"MD: {labels[key]}")
        ax.set_ylabel(f"CG: {labels[key]}")
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="openmm_cgml/models/polymer.pt", help="a trained bundle (cgml export)")
    parser.add_argument("--data", required=True, help="a standard dataset written by cgml reference polymers --standard")
    parser.add_argument("--splits", nargs="+", default=["train", "validation"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples over sequences")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", required=True, help="folder for results.json and sequence-spread.png")
    args = parser.parse_args()
    if "test" in args.splits:
        parser.error("the test split is read only by the final benchmark (docs/benchmark.md); use train and validation")
    started = time.perf_counter()
    mapping = model_mapping(args.model, "residue")
    discard = {split: choose_discard(args.data, split) for split in args.splits}
    jobs = [(split, source) for split in args.splits for source in split_sources(args.data, split)]
    rows = []
    with ProcessPoolExecutor(max(1, args.processes), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(one_sequence, args.model, args.data, split, mapping, discard[split]["discard_ps"], source,
                               args.seed + 100 * i) for i, (split, source) in enumerate(jobs)]
        for future in tqdm(as_completed(futures), total=len(futures), desc="sequences"):
            rows.append(future.result())
    rows.sort(key=lambda r: (args.splits.index(r["split"]), r["md"]["rg_mean_nm"]))
    summary = {split: summarise([r for r in rows if r["split"] == split], args.bootstrap, args.seed) for split in args.splits}
    settings = bundle_settings(args.model)
    results = {"command": "python benchmarks/sequence_spread.py " + " ".join(sys.argv[1:]),
               "model": settings, "data": args.data, "splits": args.splits, "seed": args.seed,
               "equilibration": {split: discard[split]["discard_ps"] for split in args.splits},
               "bootstrap": args.bootstrap, "wall_s": round(time.perf_counter() - started, 1),
               "summary": summary, "per_sequence": rows}
    out = Path(args.out)
    write_atomically(out / "results.json", lambda p: Path(p).write_text(json.dumps(clean(results), indent=1) + "\n"))
    plot(rows, args.splits, out / "sequence-spread.png",
         f"{Path(args.model).name} (weights {settings['weights_sha256'][:12]}) on {Path(args.data).name}: "
         f"one classical run and one CG run per sequence")
    for split in args.splits:
        s = summary[split]
        print(f"{split} ({s['sequences']} sequences): " + "; ".join(
            f"{key} slope {s[key]['slope']['value']:.2f} [{s[key]['slope']['low']:.2f}, {s[key]['slope']['high']:.2f}] "
            f"(MD halves {s[key]['ceiling_slope']['value']:.2f}), median CG/MD {s[key]['median_ratio']['value']:.2f}"
            for key in FIGURES))
    print(f"wrote {out / 'results.json'} and {out / 'sequence-spread.png'} in {results['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
