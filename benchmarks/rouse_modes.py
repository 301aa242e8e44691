"""Rouse-mode diagnostic of one CG step: mean squared bead displacement per bead and per Rouse mode, MD against the samplers of a bundle.

On evenly spaced windows of every run of a split (k history frames one CG step apart, read from the
classical data), the displacement x_{t+1} - x_t of one CG step is taken from

- MD: the classical frame one CG step after the history;
- gaussian: the bundle's weights re-exported with 0 score calls (mean + std * P(M) xi of the dynamics
  network, P(M) = 1 unless the noise is coupled along the bonds, nn/noise.py);
- refined: the bundle as given (its own score calls, score noise and ladder);
- langevin: the bundle's weights re-exported with score noise on (same calls and ladder),

each sampler drawn ``--samples`` times per window with seeded generators shared between the samplers
(so the first draw, the Gaussian noise, is the same in all three).  Rouse modes
X_p = sqrt(c_p / N) sum_n x_n cos(p pi (n + 1/2) / N) (``analysis.rouse_matrix``, beads in chain
order) split <|dx|^2> into whole-chain modes (small p) and bond-scale modes (large p).  Ratios to MD
get 95 % bootstrap intervals over runs (sequences).  The "idealised" figure is the spread a Gaussian
idealisation keeps after the refinement: if the next frame given the history were N(mean, s^2) per
axis and the score network exact, each call would scale the deviation from the mean by
1 - a sigma_i^2 / (s^2 + sigma_i^2) (and, with score noise, add 2 a sigma_i^2 of variance), s being
the Gaussian's spread of each bead (the dynamics network's std, times the norm of the bead's row of
P(M) when the noise is coupled, times the bundle's noise_scale).
The mean change of Rg^2 over the step (equal bead weights) tells whether a sampler swells or shrinks
chains started from MD histories; a model that does neither here but drifts in its own rollouts
suffers from exposure bias (its histories are not MD's).
Writes results.json and rouse-modes.png (per mode: <|dX_p|^2>, the ratio to MD, and the spread over
samples of one window that the refinements keep of the Gaussian's, beside the idealisation).

    python benchmarks/rouse_modes.py --model openmm_cgml/models/polymer.pt \\
        --data data/polymers-standard-validation --out benchmarks/results/validation/rouse-modes
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from openmm_cgml import analysis
from openmm_cgml.benchmark.estimators import bootstrap_items
from openmm_cgml.benchmark.sources import bundle_settings
from openmm_cgml.bundle import load_bundle
from openmm_cgml.data import load_windows
from openmm_cgml.export import export_bundle, propagator_of
from openmm_cgml.files import write_atomically
from openmm_cgml.nn import Propagator
from openmm_cgml.nn.neighbors import bond_keys
from openmm_cgml.report import clean

SAMPLERS = ("gaussian", "refined", "langevin")
REPORTED_MODES = (0, 1, 2, 5, -1)  # p = 0, 1, 2, 5, N-1 in the printed summary


def refinement_kept(std, sigmas, step: float, noise: bool) -> np.ndarray:
    """Fraction of the per-axis variance s^2 (std: array of s, nm) left after the refinement's
    calls on the ladder ``sigmas`` (nm) with step ``step`` if the target were N(mean, s^2) and the
    score exact: v <- (1 - a sigma^2 / (s^2 + sigma^2))^2 v, plus 2 a sigma^2 with noise on every
    call but the last."""
    s2 = np.asarray(std, dtype=np.float64) ** 2
    v = s2.copy()
    for i, sigma in enumerate(sigmas):
        v = (1.0 - step * sigma ** 2 / (s2 + sigma ** 2)) ** 2 * v
        if noise and i < len(sigmas) - 1:
            v = v + 2.0 * step * sigma ** 2
    return v / s2


def within_window_spread(start, moved, order) -> np.ndarray:
    """Per Rouse mode, the variance over samples of one window (unbiased), averaged over windows:
    ``moved`` (W, S, n, 3), S >= 2."""
    modes = analysis.rouse_modes(np.asarray(moved) - np.asarray(start)[:, None], order)
    return ((modes - modes.mean(1, keepdims=True)) ** 2).sum(-1).sum(1).mean(0) / (modes.shape[1] - 1)


def window_starts(count: int, wanted: int) -> np.ndarray:
    """``wanted`` window indices spread evenly over ``count`` (all of them when there are fewer)."""
    return np.unique(np.linspace(0, count - 1, min(wanted, count)).round().astype(np.int64))


def sample_run(modules: dict, model: Propagator, windows, indices, samples: int, seed: int, bar) -> dict:
    """Start frames, MD targets, samples of every sampler and the network's mean and std, for the
    given windows of one run; generator seeds depend on ``seed`` and the window index only."""
    first = windows[int(indices[0])]
    atoms = (first.atom_features, first.atom_bonds, first.bead_of_atom, first.atom_masses)
    embeddings = {name: module.embed(*atoms) for name, module in modules.items()}
    embedding = model.embed(*atoms)
    n = first.history.shape[1]  # P(M)'s rows: each bead's share of the coupled noise (ones when independent)
    coupling = model.noise(torch.eye(n, dtype=torch.float64), bond_keys(first.bead_bonds, n)).norm(dim=1)
    out = {"start": [], "md": [], "mean": [], "std": [], **{name: [] for name in modules}}
    for index in indices:
        w = windows[int(index)]
        mean, _, std, _ = model.predict(embedding, w.history, w.bead_bonds, None)
        out["start"].append(w.history[-1].numpy())
        out["md"].append(w.target.numpy())
        out["mean"].append(mean.numpy())
        out["std"].append((std.double() * coupling * model.noise_scale).numpy())
        for name, module in modules.items():
            draws = [module.step(embeddings[name], w.history, w.bead_bonds,
                                 torch.Generator().manual_seed(seed * 1_000_003 + int(index) * samples + s))
                     for s in range(samples)]
            out[name].append(torch.stack(draws).numpy())
        bar.update(1)
    return {key: np.stack(value) for key, value in out.items()}


def rg2_change(start, moved) -> float:
    """Mean change of the squared radius of gyration (nm^2, equal bead weights) over one step, from
    ``start`` (W, n, 3) to ``moved`` (W, n, 3) or to every sample of ``moved`` (W, S, n, 3)."""
    start = np.asarray(start)
    moved = np.asarray(moved)
    before = analysis.radius_of_gyration(start) ** 2
    after = analysis.radius_of_gyration(moved.reshape(-1, *moved.shape[-2:])) ** 2
    return float(after.reshape(len(start), -1).mean(1).mean() - before.mean())


def run_statistics(run: dict, names, sigmas_nm, score_step: float, order) -> dict:
    """Per bead and per mode mean squares of one run, the spreads, the drift of Rg^2 and the
    idealised kept fractions."""
    stats = {"md": analysis.step_mean_squares(run["start"], run["md"], order),
             "mean": analysis.step_mean_squares(run["start"], run["mean"], order)}
    stats["md"]["rg2_change"] = rg2_change(run["start"], run["md"])
    for name in names:
        stats[name] = analysis.step_mean_squares(run["start"], run[name], order)
        stats[name]["spread"] = within_window_spread(run["start"], run[name], order)
        stats[name]["rg2_change"] = rg2_change(run["start"], run[name])
    s2 = run["std"] ** 2
    stats["idealised"] = {noise: float((refinement_kept(run["std"], sigmas_nm, score_step, noise) * s2).sum() / s2.sum())
                          for noise in (False, True)}
    return stats


def summarise(per_run: list[dict], names, n_boot: int, seed: int) -> dict:
    """Means over runs (each run weighs the same), and ratios to MD with bootstrap intervals over runs."""
    def mean(key, what, idx=None):
        values = np.array([r[key][what] for r in per_run])
        return values.mean(0) if idx is None else values[idx].mean(0)

    n = len(per_run)
    summary = {"md": {"mode": mean("md", "mode"), "bead": mean("md", "bead"),
                      "rg2_change": bootstrap_items(lambda i: mean("md", "rg2_change", i), n, n_boot, seed)},
               "mean_only": {"mode": mean("mean", "mode"), "bead": mean("mean", "bead")}}
    for name in names:
        entry = {"mode": mean(name, "mode"), "bead": mean(name, "bead"), "spread_mode": mean(name, "spread"),
                 "rg2_change": bootstrap_items(lambda i, x=name: mean(x, "rg2_change", i), n, n_boot, seed)}
        for what in ("mode", "bead"):
            entry[f"{what}_ratio"] = bootstrap_items(lambda i, w=what: mean(name, w, i) / mean("md", w, i), n, n_boot, seed)
        entry["total_ratio"] = bootstrap_items(lambda i: mean(name, "bead", i).sum() / mean("md", "bead", i).sum(),
                                               n, n_boot, seed)
        summary[name] = entry
    if "gaussian" in names:
        for name in (x for x in names if x != "gaussian"):
            summary[name]["spread_kept_vs_gaussian"] = bootstrap_items(
                lambda i, x=name: mean(x, "spread", i) / mean("gaussian", "spread", i), n, n_boot, seed)
            summary[name]["spread_kept_total"] = float(mean(name, "spread").sum() / mean("gaussian", "spread").sum())
    summary["idealised_kept"] = {"deterministic": float(np.mean([r["idealised"][False] for r in per_run])),
                                 "langevin": float(np.mean([r["idealised"][True] for r in per_run]))}
    return summary


def plot(summary: dict, names, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    colours = {"md": "black", "gaussian": "tab:blue", "refined": "tab:red", "langevin": "tab:green"}
    p = np.arange(len(summary["md"]["mode"]))
    fig, (left, right, kept) = plt.subplots(1, 3, figsize=(15, 4.2))
    left.plot(p, summary["md"]["mode"], "o-", color=colours["md"], label="MD")
    for name in names:
        left.plot(p, summary[name]["mode"], "o-", ms=3, color=colours[name], label=name)
        ratio = summary[name]["mode_ratio"]
        right.plot(p, ratio["value"], "o-", ms=3, color=colours[name], label=name)
        right.fill_between(p, ratio["low"], ratio["high"], color=colours[name], alpha=0.2)
    for name, ideal in (("refined", "deterministic"), ("langevin", "langevin")):
        if name in names and "spread_kept_vs_gaussian" in summary[name]:
            ratio = summary[name]["spread_kept_vs_gaussian"]
            kept.plot(p, ratio["value"], "o-", ms=3, color=colours[name], label=name)
            kept.fill_between(p, ratio["low"], ratio["high"], color=colours[name], alpha=0.2)
            kept.axhline(summary["idealised_kept"][ideal], color=colours[name], ls="--", lw=1,
                         label=f"{name}, Gaussian idealisation (all modes)")
    right.axhline(1.0, color="black", lw=0.8)
    kept.axhline(1.0, color="black", lw=0.8)
    left.set(yscale="log", xlabel="Rouse mode p", ylabel="⟨|ΔX_p|²⟩ per CG step (nm²)", title="one CG step per mode")
    right.set(yscale="log", xlabel="Rouse mode p", ylabel="model / MD", title="ratio to MD (95 % over sequences)")
    kept.set(yscale="log", xlabel="Rouse mode p", ylabel="spread after / before refinement",
             title="spread over samples kept by the refinement")
    for axes in (left, right, kept):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.legend(fontsize=8, loc="lower left" if axes is kept else "best")
        axes.grid(alpha=0.3, which="both")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    write_atomically(path, lambda temporary: fig.savefig(temporary, dpi=120, format="png"))
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="openmm_cgml/models/polymer.pt", help="a trained bundle (cgml export)")
    parser.add_argument("--data", required=True, help="a dataset written by cgml reference")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--samples", type=int, default=8, help="draws of every sampler per window (at least 2)")
    parser.add_argument("--windows", type=int, default=256, help="windows per run, evenly spaced")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples over runs")
    parser.add_argument("--no-langevin", action="store_true", help="leave out the Langevin refinement")
    parser.add_argument("--out", required=True, help="folder for results.json and rouse-modes.png")
    args = parser.parse_args()
    if args.samples < 2 or args.windows < 1:
        parser.error("--samples must be at least 2 and --windows at least 1")
    torch.set_num_threads(1)
    started = time.perf_counter()
    module, metadata = load_bundle(args.model)
    if "model_config" not in metadata:
        parser.error(f"'{args.model}' is not a trained bundle written by cgml export")
    names = SAMPLERS[:2] if args.no_langevin else SAMPLERS
    mapping = metadata.get("mapping") or "residue"
    method = mapping.get("method") if isinstance(mapping, dict) else mapping
    windows = load_windows(args.data, args.split, module.history_length, module.timestep_ps, method)
    model = propagator_of(module, metadata)
    settings = {"refined": bundle_settings(args.model)}
    with tempfile.TemporaryDirectory() as folder, torch.no_grad():
        paths = {"gaussian": export_bundle(args.model, Path(folder) / "gaussian.pt", score_calls=0),
                 "refined": Path(args.model)}
        if "langevin" in names:
            paths["langevin"] = export_bundle(args.model, Path(folder) / "langevin.pt", score_noise=True)
        modules = {name: load_bundle(paths[name])[0].eval() for name in names}
        for name, change in (("gaussian", "--score-calls 0"), ("langevin", "--score-noise on")):
            if name in names:
                settings[name] = bundle_settings(paths[name]) | {
                    "path": f"cgml export {args.model} {change} (temporary file)"}
        runs = [(name, window_starts(windows.offsets[i + 1] - windows.offsets[i], args.windows) + windows.offsets[i])
                for i, name in enumerate(windows.metadata["runs"])]
        per_run, order = [], None
        with tqdm(total=sum(len(idx) for _, idx in runs), unit="window", desc=f"{len(runs)} runs x {args.samples} samples") as bar:
            for name, indices in runs:
                sample = sample_run(modules, model, windows, indices, args.samples, args.seed, bar)
                w = windows[int(indices[0])]
                order = analysis.chain_order(w.history.shape[1], w.bead_bonds.T.numpy())
                per_run.append(run_statistics(sample, names, metadata["score_sigmas_nm"], metadata["score_step"], order))
    summary = summarise(per_run, names, args.bootstrap, args.seed)
    n_beads = len(summary["md"]["mode"])
    wall = time.perf_counter() - started
    results = {
        "command": "python benchmarks/rouse_modes.py " + " ".join(sys.argv[1:]),
        "what": "mean squared displacement of one CG step per bead and per Rouse mode (nm^2), averaged over "
                "windows and samples, then over runs; ratios to MD with 95 % bootstrap intervals over runs",
        "model": settings["refined"], "samplers": settings,
        "data": args.data, "split": args.split, "runs": [name for name, _ in runs],
        "windows_per_run": [len(idx) for _, idx in runs], "samples_per_window": args.samples, "seed": args.seed,
        "bootstrap": args.bootstrap, "cg_step_ps": module.timestep_ps, "history_length": module.history_length,
        "n_beads": n_beads, "bead_order": order.tolist(), "wall_s": round(wall, 1), "torch_threads": 1,
        "summary": _lists(summary),
    }
    out = Path(args.out)
    write_atomically(out / "results.json", lambda p: Path(p).write_text(json.dumps(clean(results), indent=1) + "\n"))
    plot(summary, names, out / "rouse-modes.png",
         f"{Path(args.model).name} (weights {metadata['weights_sha256'][:12]}), {args.split} split of "
         f"{Path(args.data).name}: {len(runs)} runs x {results['windows_per_run'][0]} windows x {args.samples} samples")
    for name in names:
        ratio = summary[name]["mode_ratio"]
        modes = ", ".join(f"p={p % n_beads} {ratio['value'][p]:.3g} [{ratio['low'][p]:.3g}, {ratio['high'][p]:.3g}]"
                          for p in REPORTED_MODES)
        total = summary[name]["total_ratio"]
        print(f"{name}: {modes}; all beads {total['value']:.3g} [{total['low']:.3g}, {total['high']:.3g}]")
    for name in names[1:]:
        print(f"{name}: spread kept vs gaussian {summary[name]['spread_kept_total']:.3g}")
    print(f"idealised kept: {summary['idealised_kept']}")
    print("mean change of Rg^2 over one step from MD histories (nm^2): " + ", ".join(
        f"{name} {summary[name]['rg2_change']['value']:.4f} [{summary[name]['rg2_change']['low']:.4f}, "
        f"{summary[name]['rg2_change']['high']:.4f}]" for name in ("md", *names)))
    print(f"wrote {out / 'results.json'} and {out / 'rouse-modes.png'} in {wall:.0f} s")


def _lists(value):
    """numpy arrays to lists, recursively (for JSON)."""
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    return value.tolist() if isinstance(value, np.ndarray) else value


if __name__ == "__main__":
    main()
