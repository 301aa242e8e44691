"""What the benchmark writes: the results JSON (written by the run that measured it), one printed
line per figure in the form ``figure: CG value [interval] vs MD ceiling value [interval]``, a
Markdown report and its plots."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from ..bundle import sampler_summary
from ..files import write_atomically
from ..report import clean
from .gates import gates_met, gates_of
from .polymer import step_decorrelation

# A results table in a document (README, docs, model cards): ``<!-- table|compare|gates: PATH ... -->``,
# the body, ``<!-- end table -->``; PATH is a results JSON relative to the repository root, and
# scripts/results_tables.py rewrites the body from it.
RESULTS_BLOCK = re.compile(r"(<!-- (?P<kind>table|compare|gates): (?P<path>[^>]+?) -->\n)(?P<body>.*?)(<!-- end table -->)", re.S)


def _v(entry) -> str:
    if entry is None:
        return "n/a"
    if isinstance(entry, dict) and "value" in entry:
        value, low, high = (entry.get(k) for k in ("value", "low", "high"))
        return f"{_num(value)} [{_num(low)}, {_num(high)}]"
    return _num(entry)


def _num(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.3g}"


def table_number(x: float) -> str:
    """A figure in a results table: whole numbers from 100 up, three significant digits below."""
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def target_value(line: dict) -> str:
    """A speed target's value as its table and ``benchmarks/targets.py`` show it: value [low, high] (note)."""
    value = "n/a" if line.get("value") is None else table_number(line["value"])
    if line.get("interval"):
        value += f" [{table_number(line['interval'][0])}, {table_number(line['interval'][1])}]"
    return value + (f" ({line['note']})" if line.get("note") else "")


def _ratio(entry: dict, chains: int | None = None) -> str:
    """Median, p10, p90 and share in band of per-chain ratios; "over n of N chains" where some chains'
    ratio is unmeasured (a τ whose ACF does not reach zero in the run), since those chains are left out."""
    text = (f"median {_num(entry['median'])} [p10 {_num(entry['p10'])}, p90 {_num(entry['p90'])}], "
            f"{_num(entry['fraction_in'])} in [0.67, 1.5]")
    if chains is not None and entry.get("n") is not None and entry["n"] < chains:
        text += f", over {entry['n']} of {chains} chains"
    return text


def _bounds(entry: dict) -> str:
    """``estimators.censored_ratio_summary`` as text: the median's and the share's bounds, and how many chains are censored."""
    return (f"median {_num(entry['median_low'])} to {_num(entry['median_high'])}; share {_num(entry['fraction_in_low'])} "
            f"to {_num(entry['fraction_in_high'])}; {_num(entry['censored'])} of {entry['n']} chains censored"
            + (f" (each figure the mean over {entry['repeats']} repeats)" if entry.get("repeats") else ""))


def polymer_lines(summary: dict) -> list[tuple[str, str, str]]:
    """(figure, CG, ceiling) for every figure of the polymer benchmark."""
    rows = [("mean Rg, Pearson r²", summary["rg_mean"]["cg"]["pearson_r2"], summary["rg_mean"]["a"]["pearson_r2"]),
            ("mean Rg, R²", summary["rg_mean"]["cg"]["R2"], summary["rg_mean"]["a"]["R2"])]
    for method, values in summary["tau"].items():
        rows += [(f"τ(Rg²) by {method}, Pearson r²", values["cg"]["pearson_r2"], values["a"]["pearson_r2"]),
                 (f"τ(Rg²) by {method}, R²", values["cg"]["R2"], values["a"]["R2"])]
    if "rg_std" in summary:  # results written before the spread was summarised lack it
        rows += [("Rg spread (sd), R²", summary["rg_std"]["cg"]["R2"], summary["rg_std"]["a"]["R2"]),
                 ("Rg spread (sd), slope of log CG on log MD (1: the chains' differences kept)",
                  summary["rg_std"]["cg"]["log_slope"], summary["rg_std"]["a"]["log_slope"])]
    lines = [(name, _v(cg), _v(ceiling)) for name, cg, ceiling in rows]
    for method, values in summary["tau_ratio"].items():
        lines.append((f"τ_CG/τ_MD by {method}", _ratio(values["cg"], summary["sequences"]),
                      _ratio(values["a"], summary["sequences"])))
    if "tau_ratio_bounds" in summary:
        lines.append(("τ_CG/τ_MD by integral, every chain (censored τ as bounds): median; share in [0.67, 1.5]",
                      _bounds(summary["tau_ratio_bounds"]["cg"]), _bounds(summary["tau_ratio_bounds"]["a"])))
    for key, name in (("rg_std_ratio", "Rg spread (sd) CG/MD"),
                      ("step_decorrelation_ratio", "Rg² decorrelation in one CG step (1 − ACF) CG/MD")):
        if key in summary:
            lines.append((name, _ratio(summary[key]["cg"], summary["sequences"]),
                          _ratio(summary[key]["a"], summary["sequences"])))
    for key, values in summary["js_bits"].items():
        lines.append((f"JS of {key.replace('_', ' ')} (bits)", _v(values["cg"]), _v(values["a"])))
    for q, values in summary["close_contacts"].items():
        lines.append((f"pair distances below MD's {float(q):.1%} quantile (expected {float(q):g})",
                      _v(values["cg"]), _v(values["a"])))
    for method, values in summary["tau_relative_se_all_md"].items():
        lines.append((f"relative SE of τ by {method} per sequence, all MD replicas (target ≤ 0.1)",
                      "n/a", f"median {_num(values['median'])} [p10 {_num(values['p10'])}, p90 {_num(values['p90'])}], "
                             f"{_num(values['fraction_in'])} ≤ 0.1"))
    for lag, values in summary["msd_ratio"].items():
        lines.append((f"bead MSD at {lag} ps / MD's (median over sequences)", _v(values["cg"]), _v(values["a"])))
    lines.append(("fidelity gates met (benchmark.gates)", gates_met(summary, "cg"), gates_met(summary, "a")))
    if "per_repeat" in summary:
        rows = summary["per_repeat"]
        lines.append(("each CG repeat alone: gates met; median τ_CG/τ_MD; R² of mean Rg",
                      "; ".join(f"{r['gates_met']}, {_num(r['tau_ratio_median'])}, {_num(r['rg_mean_R2'])}" for r in rows),
                      "n/a"))
    return lines


def gate_rows(summary: dict) -> list[str]:
    """Markdown rows of every gate: the model's figure, the ceiling's, the target and met or missed."""
    rows = ["| gate | CG | met | MD ceiling | met | target |", "|---|---:|---|---:|---|---|"]
    for cg, ceiling in zip(gates_of(summary, "cg"), gates_of(summary, "a")):
        rows.append(f"| {cg['name']} | {_gate_value(cg)} | {'met' if cg['met'] else 'missed'} | {_gate_value(ceiling)} | "
                    f"{'met' if ceiling['met'] else 'missed'} | {cg['target']} |")
    return rows


def _gate_value(gate: dict) -> str:
    """A gate's figure, and where censored chains leave it open, the bounds they allow."""
    text = _num(gate["value"])
    if gate.get("bounds"):
        text += f" (every chain, censored τ as bounds: {_num(gate['bounds'][0])} to {_num(gate['bounds'][1])})"
    return text


def peptide_lines(summary: dict) -> list[tuple[str, str, str]]:
    """(figure, CG, ceiling) for the kinetics benchmark: JS, then every kinetic figure as a ratio to MD half B."""
    js = summary["ramachandran_js_bits"]
    lines = [("Ramachandran JS (bits, 36 x 36 grid)", _v(js["cg"]), _v(js["a"]))]
    for key, sides in summary["ratios"].items():
        values = summary["values"]
        lines.append((f"{key.replace('_', ' ')} / MD's (MD half B: {_num(values['b'][key])})",
                      f"{_v(sides['cg'])} (CG {_num(values['cg'][key])})", _v(sides["a"])))
    # Stand-ins have no CG speed; results written before the classical speed was recorded lack MD's.
    cg, md = summary.get("cg_ns_per_wall_s"), summary.get("md_ns_per_wall_s")
    lines.append(("simulated ns per wall second, one core", "n/a" if cg is None else _num(cg),
                  f"MD {'n/a' if md is None else _num(md)}"))
    lines.append(("fidelity gates met (benchmark.gates)", gates_met(summary, "cg"), gates_met(summary, "a")))
    return lines


def judgeable_table(rows) -> list[str]:
    """Markdown lines: which CG steps the classical data can judge (``peptide.judgeable_steps``)."""
    text = ["Which CG steps these classical data can judge (all replicas, read every step):", "",
            "| step (ps) | slowest timescale (ps) | resolved | MFPT beta→alphaL (ps) | resolved | transitions |",
            "|---:|---:|---|---:|---|---:|"]
    return text + [f"| {r['step_ps']:g} | {_num(r['slowest_timescale_ps'])} | {r['timescale_resolved']} | "
                   f"{_num(r['mfpt_beta_to_alphaL_ps'])} | {r['mfpt_resolved']} | {r['transitions']} |" for r in rows]


def print_lines(lines) -> None:
    for name, cg, ceiling in lines:
        print(f"{name}: CG {cg} vs MD ceiling {ceiling}")


def write(results: dict, lines, out_dir, command: str) -> Path:
    """results.json (with the command that measured it), report.md and the plots in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = clean(dict(results, command=command))
    write_atomically(out / "results.json", lambda p: Path(p).write_text(json.dumps(results, indent=1)))
    plots = _polymer_plots(results, out) if results["benchmark"] == "polymer" else _ramachandran_plot(results, out)
    model = results["model"]
    text = [f"# Fidelity benchmark: {results['benchmark']}, {results['split']} split", "",
            f"Model: `{model.get('path', model.get('stand_in'))}`" + _model_note(model),
            f"Data: `{results['data']}`; command: `{command}`.", "",
            "Every CG figure is the estimator applied to the CG replicas against half B of the classical "
            "replicas; the ceiling is the same estimator applied to half A against half B. "
            + _repeats_note(results.get("settings", {}).get("repeats", 1)) + "Intervals: "
            + ("bootstrap 95 % over sequences." if results["benchmark"] == "polymer" else
               "95 %, resampling whole replicas of both sides; kinetics read at the CG step."),
            "", "| figure | CG | MD ceiling |", "|---|---|---|"]
    text += [f"| {name} | {cg} | {ceiling} |" for name, cg, ceiling in lines]
    if "judgeable_steps" in results:
        text += [""] + judgeable_table(results["judgeable_steps"])
    text += [""] + [f"![{p}]({p})" for p in plots]
    (out / "report.md").write_text("\n".join(text) + "\n")
    return out / "results.json"


def _repeats_note(repeats: int) -> str:
    if repeats == 1:
        return ""
    return (f"The CG side was run {repeats} times per sequence with other random numbers, each time as many "
            f"replicas as half A; every CG figure is the mean of its {repeats} values. ")


def _model_note(model: dict) -> str:
    """What the report says about the model beside its path."""
    if "path" not in model:
        return " (stand-in)"
    weights = str(model.get("weights_sha256"))[:16]
    if model.get("kind") == "cg-forcefield":
        return (f" (CG force field through TorchForce, weights {weights}, LangevinMiddleIntegrator at "
                f"{model['timestep_ps']} ps with friction {model['friction_per_ps']}/ps)")
    return f" (weights {weights}, {sampler_summary(model)})"


def _polymer_plots(results: dict, out: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seqs = results["per_sequence"]
    names = sorted(seqs)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for ax, (key, label) in zip(axes, (("tau_ps", "τ(Rg²), 1/e (ps)"), ("rg_mean_nm", "mean Rg (nm)"))):
        get = (lambda s, side: seqs[s][key][side]["efold"]) if key == "tau_ps" else (lambda s, side: seqs[s][key][side])
        truth = np.array([get(s, "b") or np.nan for s in names], dtype=float)
        for side, colour, text in (("a", "tab:blue", "MD half A (ceiling)"), ("cg", "tab:red", "CG")):
            ax.scatter(truth, [get(s, side) or np.nan for s in names], color=colour, label=text, s=18)
        lo, hi = np.nanmin(truth) * 0.5, np.nanmax(truth) * 1.6
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
        ax.set_xlabel(f"MD half B: {label}")
        ax.set_ylabel(label)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "scatter.png", dpi=100)
    plt.close(fig)
    fig, axes = plt.subplots(1, min(4, len(names)), figsize=(4 * min(4, len(names)), 3.4), squeeze=False)
    for ax, s in zip(axes[0], names[:: max(1, len(names) // 4)]):
        for side, colour in (("a", "tab:blue"), ("b", "tab:cyan"), ("cg", "tab:red")):
            acf = np.array(seqs[s]["acf"][side], dtype=float)
            ax.plot(np.arange(acf.size) * seqs[s]["frame_interval_ps"][side], acf, color=colour, label=side.upper())
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_title(s, fontsize=8)
        ax.set_xlabel("lag (ps)")
        ax.legend()
    axes[0][0].set_ylabel("Rg² autocorrelation")
    fig.tight_layout()
    fig.savefig(out / "acf.png", dpi=100)
    plt.close(fig)
    js = results["summary"]["js_bits"]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    x = np.arange(len(js))
    for shift, side, colour, text in ((-0.2, "cg", "tab:red", "CG vs MD"), (0.2, "a", "tab:blue", "MD vs MD (floor)")):
        values = [js[k][side]["value"] or 0.0 for k in js]
        errors = [[v - (js[k][side]["low"] or v) for v, k in zip(values, js)], [(js[k][side]["high"] or v) - v for v, k in zip(values, js)]]
        ax.bar(x + shift, values, 0.4, yerr=errors, color=colour, label=text)
    ax.set_xticks(x, [k.replace("_", " ") for k in js])
    ax.set_ylabel("JS divergence (bits)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "js.png", dpi=100)
    plt.close(fig)
    _by_sequence_plot(seqs, out / "by_sequence.png")
    return ["scatter.png", "acf.png", "js.png", "by_sequence.png"]


BY_SEQUENCE = (("rg_std_nm", "Rg spread (sd)"), ("decorrelation", "Rg² decorrelation in one CG step"),
               ("tau_efold", "τ(Rg²), 1/e"))


def by_sequence(figures: dict) -> dict[str, dict[str, float]]:
    """Per sequence, side "cg" or "a" over MD half B: the ratios of ``BY_SEQUENCE``, beside MD half B's mean Rg."""
    def value(key, side):
        if key == "rg_std_nm":
            return figures["rg_std_nm"][side]
        if key == "tau_efold":
            return figures["tau_ps"][side]["efold"]
        return step_decorrelation(figures, side)

    def ratio(key, side):
        top, bottom = value(key, side), value(key, "b")
        return float("nan") if top is None or bottom is None or not bottom else top / bottom

    return {side: {key: ratio(key, side) for key, _ in BY_SEQUENCE} for side in ("cg", "a")}


def _by_sequence_plot(seqs: dict, path: Path) -> None:
    """Each sequence's ratios to MD half B (``by_sequence``) against its compactness (MD's mean Rg):
    whether a model's errors follow the kind of chain."""
    import matplotlib.pyplot as plt

    names = sorted(seqs, key=lambda s: seqs[s]["rg_mean_nm"]["b"])
    x = np.array([seqs[s]["rg_mean_nm"]["b"] for s in names])
    ratios = [by_sequence(seqs[s]) for s in names]
    fig, axes = plt.subplots(1, len(BY_SEQUENCE), figsize=(4.2 * len(BY_SEQUENCE), 3.6), sharey=True)
    for ax, (key, label) in zip(axes, BY_SEQUENCE):
        for side, colour, text in (("a", "tab:blue", "MD half A (ceiling)"), ("cg", "tab:red", "CG")):
            ax.scatter(x, [r[side][key] for r in ratios], color=colour, s=18, label=text)
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("MD half B: mean Rg (nm)")
        ax.set_title(f"{label} / MD half B's", fontsize=9)
    axes[0].set_ylabel("ratio to MD half B")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _ramachandran_plot(results: dict, out: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    maps = results["summary"]["ramachandran"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for ax, (side, title) in zip(axes, (("cg", "CG"), ("a", "MD half A"), ("b", "MD half B"))):
        h = np.array(maps[side], dtype=float)
        ax.imshow(np.log10(h.T + 1e-5), origin="lower", extent=(-180, 180, -180, 180), cmap="viridis", vmin=-5, vmax=-1)
        ax.set_title(title)
        ax.set_xlabel("phi (degrees)")
    axes[0].set_ylabel("psi (degrees)")
    fig.tight_layout()
    fig.savefig(out / "ramachandran.png", dpi=100)
    plt.close(fig)
    return ["ramachandran.png"]
