"""The CG-vs-classical report: ``analysis`` metrics of both runs, Jensen–Shannon divergences, plots
(PNG) and the Markdown summary that ``compare`` writes."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import analysis


@dataclass
class BeadRun:
    """Bead centres (n_frames, n_beads, 3) nm every ``interval_ps``; simulated and wall time of the run."""

    beads: np.ndarray
    interval_ps: float
    label: str
    simulated_ps: float = float("nan")
    wall_s: float = float("nan")

    @property
    def ns_per_s(self) -> float:
        return self.simulated_ps / 1000.0 / self.wall_s if self.wall_s > 0 else float("nan")


def metrics(cg: BeadRun, ref: BeadRun, masses, bonds, bins, percentile, out: Path, forcefield: BeadRun | None = None) -> dict:
    """Every run's figures, and the JS divergences of the CG run (and of the CG force field's, when
    given) against the classical side; writes the plots to ``out``."""
    triples = analysis.angle_triples(bonds)
    has_nonbonded = len(analysis.nonbonded_pairs(masses.size, bonds)) > 0
    threshold = analysis.collision_threshold(ref.beads, bonds, percentile) if has_nonbonded else None
    runs = {"cg": cg, "classical": ref} | ({"forcefield": forcefield} if forcefield is not None else {})
    data, sides = {}, {}
    for name, t in runs.items():
        rg = analysis.radius_of_gyration(t.beads, masses)
        d = {"rg": rg, "acf": analysis.autocorrelation(rg ** 2, analysis.trusted_lags(rg.size)),
             "msd": analysis.msd(t.beads, t.interval_ps), "pairs": analysis.pair_distances(t.beads),
             "bonds": analysis.bond_lengths(t.beads, bonds), "angles": np.degrees(analysis.bond_angles(t.beads, triples))}
        hits = analysis.collisions(t.beads, threshold, bonds) if threshold is not None else np.zeros(len(rg), int)
        data[name] = d
        sides[name] = {"label": t.label, "frames": int(len(rg)), "frame_interval_ps": t.interval_ps,
                       "rg_mean_nm": float(rg.mean()), "rg_std_nm": float(rg.std()),
                       "rg2_relaxation_ps": analysis.relaxation_time(rg ** 2, t.interval_ps),
                       "rg2_relaxation_integral_ps": analysis.relaxation_time(rg ** 2, t.interval_ps, "integral"),
                       "bond_length_mean_nm": _mean(d["bonds"]), "bond_angle_mean_deg": _mean(d["angles"]),
                       "msd_last_nm2": float(d["msd"][1][-1]), "msd_last_lag_ps": float(d["msd"][0][-1]),
                       "collisions_per_frame": float(hits.mean()), "frames_with_collision": float((hits > 0).mean())}
    _plots(data, sides, bins, out)
    report = {"cg": sides["cg"], "classical": sides["classical"], "js_divergence_bits": _js(data["cg"], data["classical"], bins),
              "collision_threshold_nm": threshold, "collision_threshold_percentile": percentile,
              "plots": ["rg.png", "rg2_acf.png", "distances.png", "bonds.png", "msd.png"]}
    if forcefield is not None:
        report["forcefield"] = sides["forcefield"]
        report["forcefield_js_divergence_bits"] = _js(data["forcefield"], data["classical"], bins)
    return report


def _js(c: dict, r: dict, bins) -> dict:
    """JS divergences (bits) of one run's distributions against the classical run's."""
    return {"rg": analysis.distribution_js(c["rg"], r["rg"], bins),
            "pair_distances_mean_over_pairs": analysis.pairwise_js(c["pairs"], r["pairs"], bins) if c["pairs"].size else None,
            "pair_distances_pooled": analysis.distribution_js(c["pairs"], r["pairs"], bins) if c["pairs"].size else None,
            "bond_lengths": analysis.distribution_js(c["bonds"], r["bonds"], bins) if c["bonds"].size else None,
            "bond_angles": analysis.distribution_js(c["angles"], r["angles"], bins) if c["angles"].size else None}


def _mean(x) -> float | None:
    return float(np.mean(x)) if np.size(x) else None


def _plots(data, sides, bins, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"cg": "tab:red", "classical": "tab:blue", "forcefield": "tab:green"}

    def overlay(ax, key, xlabel):
        values = [data[n][key] for n in data if np.size(data[n][key])]
        if not values:
            ax.set_visible(False)
            return
        edges = analysis.shared_bins(*values, bins=bins)
        for n in data:
            ax.hist(np.ravel(data[n][key]), edges, density=True, histtype="step", color=colours[n], label=sides[n]["label"])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("probability density")
        ax.legend()

    def figure(name, panels):
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
        for ax, draw in zip(axes[0], panels):
            draw(ax)
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)

    def acf(ax):
        for n in data:
            lags = np.arange(data[n]["acf"].size) * sides[n]["frame_interval_ps"]
            ax.plot(lags, data[n]["acf"], color=colours[n], label=sides[n]["label"])
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("lag (ps)")
        ax.set_ylabel("Rg² autocorrelation")
        ax.legend()

    def msd(ax):
        for n in data:
            lag, value = data[n]["msd"]
            ax.loglog(lag[1:], value[1:], color=colours[n], label=sides[n]["label"])
        ax.set_xlabel("lag (ps)")
        ax.set_ylabel("bead MSD (nm²)")
        ax.legend()

    figure("rg.png", [lambda ax: overlay(ax, "rg", "bead Rg (nm)")])
    figure("rg2_acf.png", [acf])
    figure("distances.png", [lambda ax: overlay(ax, "pairs", "bead–bead distance, all pairs (nm)")])
    figure("bonds.png", [lambda ax: overlay(ax, "bonds", "CG bond length (nm)"),
                         lambda ax: overlay(ax, "angles", "CG bond angle (degrees)")])
    figure("msd.png", [msd])


def clean(value):
    """JSON-safe: numpy scalars to Python, NaN and inf to None."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def markdown(r: dict) -> str:
    def f(x, digits=3):
        return "n/a" if x is None else f"{x:.{digits}g}"

    c, m, s, h, js = r["cg"], r["classical"], r["speed"], r["handoff"], r["js_divergence_bits"]
    ff = r.get("forcefield")
    runs = [c] + ([ff] if ff else []) + [m]

    def row(name, value):
        return f"| {name} | " + " | ".join(str(value(x)) for x in runs) + " |"

    rows = [row("frames", lambda x: x["frames"]), row("frame interval (ps)", lambda x: f(x["frame_interval_ps"])),
            row("Rg mean ± std (nm)", lambda x: f"{f(x['rg_mean_nm'])} ± {f(x['rg_std_nm'])}"),
            row("Rg² relaxation, ACF to 1/e (ps)", lambda x: f(x["rg2_relaxation_ps"])),
            row("Rg² relaxation, ACF integral (ps)", lambda x: f(x["rg2_relaxation_integral_ps"])),
            row("mean CG bond length (nm)", lambda x: f(x["bond_length_mean_nm"])),
            row("mean CG bond angle (°)", lambda x: f(x["bond_angle_mean_deg"])),
            row("bead MSD at the last lag (nm²)", lambda x: f"{f(x['msd_last_nm2'])} at {f(x['msd_last_lag_ps'])} ps"),
            row("collisions per frame", lambda x: f(x["collisions_per_frame"])),
            row("frames with a collision", lambda x: f(x["frames_with_collision"]))]
    header = "| | CG integrator | " + ("CG force field | " if ff else "") + f"{m['label']} |"
    lines = ["# CG integrator vs classical MD" + (" and a CG force field" if ff else ""), "",
             f"{r['system']['atoms']} atoms in {r['system']['beads']} beads; bundle `{r['system']['bundle']}`; "
             + (f"CG force field `{r['system']['forcefield']}`; " if ff else "") + f"classical side: {m['label']}.", "",
             header, "|---|" + "---:|" * len(runs)] + rows
    lines += ["", "Relaxation times: the lag at which the normalised Rg² ACF falls to 1/e, and its integral up to "
              "the first zero crossing (n/a: the series is too short to resolve it). MSD: per bead, centre of "
              "mass not removed." + (" The bundle was trained on rotation-free windows: the CG side keeps the "
                                     "molecule's orientation, so its MSD counts internal motion only, the classical "
                                     "side's tumbling too." if r["system"].get("rotation_free") else ""),
              f"Collisions: non-bonded bead pairs closer than {f(r['collision_threshold_nm'])} nm "
              f"(percentile {r['collision_threshold_percentile']} of the classical side's non-bonded distances).", "",
              "## Jensen–Shannon divergence (bits, 0 = identical, 1 = disjoint)", ""]
    divergences = [js] + ([r["forcefield_js_divergence_bits"]] if ff else [])
    lines += ["| distribution | CG integrator |" + (" CG force field |" if ff else ""), "|---|" + "---:|" * len(divergences)]
    lines += [f"| {k.replace('_', ' ')} | " + " | ".join(f(d[k]) for d in divergences) + " |" for k in js]
    lines += ["", "## Speed (simulated time per wall second, time in `step` only)", "",
              f"CG {f(s['cg_ns_per_s'])} ns/s (step {f(s['cg_step_ps'])} ps), classical {f(s['classical_ns_per_s'])} ns/s "
              f"(step {f(s['md_step_ps'])} ps), ratio **{f(s['ratio'])}** on {s['platform']}."
              + (f" CG force field {f(s['forcefield_ns_per_s'])} ns/s (step {f(s['forcefield_step_ps'])} ps), "
                 f"{f(s['forcefield_ratio'])} × classical." if ff else ""), "",
              "## Hand-off to atoms", ""]
    if h.get("failed"):
        lines += [f"**The hand-off failed**: {h['reason']}", ""]
    else:
        lines += [f"Bead centres after relaxation: max {f(h['max_deviation_nm'])} nm, rms {f(h['rms_deviation_nm'])} nm from the CG "
                  f"positions; potential energy {f(h['potential_energy_before'], 5)} → {f(h['potential_energy_after'], 5)} kJ/mol, "
                  f"{f(h['potential_energy_after_steps'], 5)} kJ/mol after {h['classical_steps_after']} classical steps.", ""]
    lines += [f"![{p}]({p})" for p in r["plots"]]
    return "\n".join(lines) + "\n"
