"""Rewrites the results tables of README.md (and of the research logs in docs/ and the model cards) from the benchmarks' results JSON.

A table is the block between ``<!-- table: PATH -->`` and ``<!-- end table -->``, where PATH is a
results.json written by ``cgml benchmark`` (relative to the repository root); its rows are the same
lines the benchmark printed (``openmm_cgml.benchmark.output``), so no figure is typed by hand.  PATH
may also be the JSON of ``benchmarks/speed.py``, ``benchmarks/integrator_overhead.py``,
``benchmarks/replicas.py``, ``benchmarks/classical_baseline.py``, ``benchmarks/whole_run.py``,
``benchmarks/targets.py``, ``benchmarks/local_structure.py`` or the summary of ``benchmarks/history_ablation.py``.
``<!-- compare: PATH PATH ... -->`` ... ``<!-- end table -->`` puts several runs side by side: the
figures whose names contain one of ``KEY_FIGURES``, a column per run, and the first run's ceiling.
``<!-- gates: PATH -->`` lists every fidelity gate of a run (``benchmark.gates``).
A ``compare`` of ``benchmarks/peptide_equilibrium.py`` runs is a row per model and per MD reference, one of
``benchmarks/sequence_spread.py`` runs a row per model and split.

    python scripts/results_tables.py README.md docs/research-polymers.md docs/research-peptide.md openmm_cgml/models/polymer.md
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from openmm_cgml.benchmark import output

ROOT = Path(__file__).resolve().parents[1]
BLOCK = output.RESULTS_BLOCK
KEY_FIGURES = ("mean Rg, R²", "by integral, Pearson", "τ_CG/τ_MD by integral", "JS of rg", "JS of bond lengths",
               "JS of bond angles", "below MD's 0.1%", "MSD at 100 ps", "MSD at 1000 ps", "gates met", "per wall second",
               "Rg spread (sd), slope", "Rg spread (sd) CG/MD", "decorrelation in one CG step")


_number = output.table_number


def targets_table(r: dict) -> str:
    """The rows of benchmarks/targets.py's JSON: every speed target, its value, met or missed."""
    rows = [f"`{r['command']}` (effective speed from the {r['split']} split)", "",
            "| figure | value | target | met | from |", "|---|---|---|---|---|"]
    for line in r["lines"]:
        rows.append(f"| {line['figure']} | {output.target_value(line)} | {line['target']} | {'met' if line['met'] else 'missed'} | "
                    f"`{line['source']}` |")
    return "\n".join(rows) + "\n"


def speed_table(r: dict) -> str:
    """The rows of benchmarks/speed.py's JSON: (a) CG over classical, (b) integrator over bare step,
    (e) the Threads property, (c) step time by size and its growth, (d) peak memory."""
    rows = [f"`{r['command']}` (torch threads and OpenMM CPU threads: {r['threads']}; {r['cpus']} cores, no GPU)", "",
            "| figure | measured | target |", "|---|---:|---:|"]
    for v in r["versus_classical"]:
        what = f"{v['system']} ({v['atoms']} atoms, {v['beads']} beads, CG step {v['cg_step_ps']:g} ps), {v['platform']}"
        target = "≥ 10⁴" if v["cg_step_ps"] >= 1000 and v["platform"] == "CPU" else ""
        rows.append(f"| {what}: CG / classical simulated time per wall second | {_number(v['speed_ratio'])} "
                    f"({_number(v['cg_ps_per_s'])} vs {_number(v['classical_ps_per_s'])} ps/s) | {target} |")
    rows.append("| integrator step / bare bundle `step`, the rows above | "
                + ", ".join(f"{v['integrator_over_bare']:.3f}" for v in r["versus_classical"]) + " | ≤ 1.2 |")
    threads = r.get("threads_property")
    if threads:
        for load in ("idle", "one busy process"):
            t, all_cores = threads[load], f"threads_{threads['cores']}_ms"
            rows.append(f"| polymer step, integrator property Threads = 1 / {threads['cores']} ({load}) | "
                        f"{t['threads_1_ms']:.2f} / {t[all_cores]:.2f} ms | |")
    sizes = r.get("scaling") or []
    if sizes:
        rows.append("| CG step at " + " / ".join(f"{s['beads']}" for s in sizes) + " beads (polymer model, sizes timed in "
                    "alternation) | " + " / ".join(_number(s['integrator_step_ms']) for s in sizes) + " ms | |")
        if "growth_1e3_to_1e4" in r:
            rows.append(f"| growth from 10³ to 10⁴ beads | {r['growth_1e3_to_1e4']:.2f} | ≤ 12 |")
        if all("peak_rss_mb" in s for s in sizes):
            rows.append("| peak memory at " + " / ".join(f"{s['beads']}" for s in sizes) + " beads (RSS) | "
                        + " / ".join(f"{s['peak_rss_mb']:.0f}" for s in sizes) + " MB | |")
    return "\n".join(rows) + "\n"


def overhead_table(r: dict) -> str:
    """The rows of benchmarks/integrator_overhead.py's JSON."""
    rows = [f"`{r['command']}`", "", "| platform | beads | training range checked | integrator (µs/step) | bare step (µs) | ratio |",
            "|---|---:|---|---:|---:|---:|"]
    rows += [f"| {x['platform']} | {x['beads']} | {'yes' if x.get('training_range_checked') else 'no'} | "
             f"{x['integrator_us']:.1f} | {x['bare_step_us']:.1f} | {x['ratio']:.2f} |" for x in r["rows"]]
    return "\n".join(rows) + "\n"


def replicas_table(r: dict) -> str:
    """The rows of benchmarks/replicas.py's JSON: N copies per step against one, and against classical."""
    c = r["classical"]
    rows = [f"`{r['command']}` ({r['cpus']} cores, no GPU; classical: one copy on {c['platform']}, "
            f"{c['step_us'][c['platform']]:.1f} µs per {c['step_ps']:g} ps step, scaled ideally over the cores)", "",
            "| copies (beads) | torch threads | CG step (ms) | CG ps/s, all copies | × one copy per step (target ≥ 10 at 64) "
            "| × classical on all cores |", "|---:|---:|---:|---:|---:|---:|"]
    rows += [f"| {x['copies']} ({x['beads']}) | {x['threads']} | {x['cg_step_ms']:.1f} | {x['cg_ps_per_s']:.0f} | "
             f"{x['throughput_over_one_copy']:.1f} | {x['versus_classical']:.1f} |" for x in r["rows"]]
    return "\n".join(rows) + "\n"


def classical_table(r: dict) -> str:
    """The rows of benchmarks/classical_baseline.py's JSON: every classical set-up, then the CG models
    against the fastest one and against the data's set-up on the CPU platform with one thread."""
    rows = [f"`{r['command']}` ({r['cpus']} cores, no GPU, OpenMM {r['openmm']}; hydrogen-mass repartitioning checked "
            f"stable for {r['stability_ps']:g} ps: {'yes' if r['hmr_stable'] else 'no'})", "",
            "| system | set-up | platform | µs per step | ns/day |", "|---|---|---|---:|---:|"]
    for name, system in r["systems"].items():
        rows += [f"| {name} | {c['setup']} | {c['platform']} | {c['step_us']:.1f} | {c['ns_per_day']:.0f} |" for c in system["classical"]]
    rows += ["", "| system | CG model (torch threads) | ms per CG step | simulated time / fastest classical | "
             "/ the data's set-up, CPU, 1 thread |", "|---|---|---:|---:|---:|"]
    for name, system in r["systems"].items():
        best = system["best_classical"]
        rows += [f"| {name} | {c['model']} ({c['threads']}) | {c['step_ms']:.2f} | {c['over_best_classical']:.3g} "
                 f"(vs {best['setup']}, {best['platform']}) | {c['over_data_setup_cpu_1_thread']:.3g} |"
                 for c in system["cg"] if "over_best_classical" in c]
    return "\n".join(rows) + "\n"


def whole_run_table(r: dict) -> str:
    """The rows of benchmarks/whole_run.py's JSON: one run, set-up, hand-off and I/O included, and the pay-off."""
    cg, md, cost = r["cg"], r["classical"], r["model_cost_s"]
    rows = [f"`{r['command']}` ({r['system']}, {r['platform']} platform, {r['ns_per_run']:g} ns per run)", "",
            "| | set-up (s) | steps (s) | hand-off (s) | whole run (s) |", "|---|---:|---:|---:|---:|",
            f"| CG ({cg['steps']} steps of {cg['step_ps']:g} ps) | {cg['setup_s']:.2f} | {cg['stepping_s']:.1f} | "
            f"{cg['handoff_s']:.2f} | {cg['total_s']:.1f} |",
            f"| classical ({md['steps']} steps of {md['step_ps']:g} ps) | {md['setup_s']:.2f} | {md['stepping_s']:.1f} | | "
            f"{md['total_s']:.1f} |", "",
            f"Whole run, classical / CG: {r['whole_run_ratio']:.2f}. The model's cost (its card: classical data "
            f"{cost['classical_data']:.0f} s, training {cost['training']:.0f} s) is paid off after "
            + (f"{r['runs_to_pay_off']:.0f} such runs." if r["runs_to_pay_off"] else "no number of runs.")]
    return "\n".join(rows) + "\n"


def ablation_table(r: dict) -> str:
    """The rows of benchmarks/history_ablation.py's summary JSON: per history length, the validation
    losses and the training time (the fidelity figures are the compare table of its results)."""
    rows = [f"`{r['command']}` (config {r['config']}, trained on {r['data']}; losses on its validation split)", "",
            "| k | Gaussian NLL | score matching | acceleration mse | epochs | training (s) |", "|---:|---:|---:|---:|---:|---:|"]
    for run in sorted(r["runs"], key=lambda run: run["history_length"]):
        v, t = run["validation_losses"], run["training"]
        rows.append(f"| {run['history_length']} | {v['nll']:.4f} | {v['dsm']:.4f} | {v['mse']:.4f} | {t['epochs_run']} | "
                    f"{t['epoch_seconds']:.0f} |")
    return "\n".join(rows) + "\n"


def langevin_table(r: dict) -> str:
    """The rows of benchmarks/forcefield_langevin.py's JSON: the time-step and friction candidates and the choice."""
    peptide = r.get("benchmark") == "peptide"
    mobility = r["settings"].get("mobility", f"MSD at {r['settings'].get('msd_lag_ps', 100):g} ps") + " / MD's"
    key = "mobility_ratio" if "mobility_ratio" in r["frictions"][0] else "msd_ratio"  # results written before the rename
    runs = f"{r['settings']['chains']} copies" if peptide else f"{r['settings']['chains']} chains"
    rows = [f"`{r['command']}` ({r['split']} split, {runs} × {r['settings']['length_ps']:g} ps per candidate)", "",
            f"| time step (fs) | mean bond (nm) | mean Rg (nm) | bond JS vs shortest step (bits) | {mobility} |",
            "|---:|---:|---:|---:|---:|"]
    rows += [f"| {t['timestep_ps'] * 1e3:g} | {t['mean_bond_nm']:.4f} | {t['mean_rg_nm']:.3f} | "
             f"{t['bond_js_bits_vs_shortest']:.4f} | {t[key]:.2f} |" for t in r["timesteps"]]
    rows += ["", f"| friction (1/ps), step {r['chosen_timestep_ps'] * 1e3:g} fs | {mobility} |", "|---:|---:|"]
    rows += [f"| {f['friction_per_ps']:g} | {f[key]:.2f} |" for f in r["frictions"]]
    rows += ["", f"Chosen: time step {r['chosen_timestep_ps'] * 1e3:g} fs (the longest within the tolerances "
             f"{r['settings']['tolerances']}), friction {r['chosen_friction_per_ps']:g}/ps (log mobility ratio "
             f"interpolated to zero in log friction)."]
    return "\n".join(rows) + "\n"


def effective_table(r: dict) -> str:
    """The rows of benchmarks/effective_speed.py's JSON: wall time to a 5 % standard error, CG and MD."""
    rows = [f"`{r['command']}` ({r['split']} split; {r['blocks']} blocks per side, 95 % bootstrap intervals)", "",
            "| model | observable | MD wall s to 5 % | CG wall s to 5 % | t_MD / t_CG | mean, CG vs MD (z) |",
            "|---|---|---:|---:|---|---|"]
    for m in r["models"]:
        label = _label({"model": m["model"], "settings": {}})
        for name, f in m["figures"].items():
            offset = (f"{f['cg_mean']:.3f} vs {f['md_mean']:.3f} ({f['bias_z']:+.1f})" if "bias_z" in f
                      else f"off by \\|z\\| > 2 in {100 * f['biased_share']:.0f} % of {f['sequences']} sequences")
            rows.append(f"| {label} | {name} | {_number(f['md_wall_s'])} | {_number(f['cg_wall_s'])} | "
                        f"{_number(f['value'])} [{_number(f['low'])}, {_number(f['high'])}] | {offset} |")
    return "\n".join(rows) + "\n"


def profile_table(r: dict, top: int = 8) -> str:
    """benchmarks/profile_step.py's JSON: per copy count, the step's time and operators, and the operators
    that take the most self time."""
    rows = [f"`{r['command']}` (torch {r['torch_version']}, 1 thread; bundle weights {r['model']['weights_sha256'][:12]})", "",
            "| copies (beads) | step (ms) | operators per step | operator | calls per step | µs per step | share of self time |",
            "|---:|---:|---:|---|---:|---:|---:|"]
    for x in r["rows"]:
        for i, op in enumerate(x["top"][:top]):
            head = (f"| {x['copies']} ({x['beads']}) | {x['step_ms']:.2f} | {x['operators_per_step']:.0f} |" if i == 0
                    else "| | | |")
            rows.append(f"{head} `{op['operator']}` | {op['calls_per_step']:.0f} | {op['self_us_per_step']:.0f} | "
                        f"{100 * op['share']:.1f} % |")
    return "\n".join(rows) + "\n"


def local_structure_table(r: dict) -> str:
    """benchmarks/local_structure.py's JSON: per side, the spread and tails of bond lengths and angles."""
    rows = [f"`{r['command']}` ({r['split']} split, {r['sequences']} sequences; MD read every CG step)", "",
            "| side | bond length sd (nm) | below / above MD's 1 % and 99 % quantiles | bond angle sd (°) | 1 % quantile (°) "
            "| below / above MD's 1 % and 99 % quantiles |", "|---|---:|---|---:|---:|---|"]
    bonds, angles = r["figures"]["bond_lengths_nm"], r["figures"]["bond_angles_deg"]
    for side in bonds:
        b, a = bonds[side], angles[side]
        name = "MD" if side == "md" else f"`{Path(side).name}`"
        rows.append(f"| {name} | {b['std']:.4f} | {b['mass_below_md_1pc']:.4f} / {b['mass_above_md_99pc']:.4f} | "
                    f"{a['std']:.2f} | {a['quantiles']['0.01']:.2f} | {a['mass_below_md_1pc']:.4f} / {a['mass_above_md_99pc']:.4f} |")
    return "\n".join(rows) + "\n"


def table(path: Path) -> str:
    results = json.loads(path.read_text())
    if "local_structure.py" in results.get("command", ""):
        return local_structure_table(results)
    if "relative_se" in results:
        return effective_table(results)
    if "targets.py" in results.get("command", ""):
        return targets_table(results)
    if "profile_step.py" in results.get("command", ""):
        return profile_table(results)
    if "chosen_friction_per_ps" in results:
        return langevin_table(results)
    if results.get("runs") and "history_length" in results["runs"][0]:
        return ablation_table(results)
    if "runs_to_pay_off" in results:
        return whole_run_table(results)
    if "hmr_stable" in results:
        return classical_table(results)
    if "classical_scaling" in results:
        return replicas_table(results)
    if "versus_classical" in results:
        return speed_table(results)
    if "integrator_overhead" in results.get("command", ""):
        return overhead_table(results)
    lines = (output.polymer_lines if results["benchmark"] == "polymer" else output.peptide_lines)(results["summary"])
    model = results["model"]
    name = Path(model["path"]).name if "path" in model else f"stand-in `{model['stand_in']}`"
    head = [f"`{results['command']}` ({results['split']} split; model {name}"
            + (f", weights {model['weights_sha256'][:12]}" if model.get("weights_sha256") else "") + ")", "",
            "| figure | CG | MD ceiling |", "|---|---|---|"]
    body = [f"| {figure} | {cg} | {ceiling} |" for figure, cg, ceiling in lines]
    if "judgeable_steps" in results:
        body += [""] + output.judgeable_table(results["judgeable_steps"])
    return "\n".join(head + body) + "\n"


def _lines(results: dict):
    return (output.polymer_lines if results["benchmark"] == "polymer" else output.peptide_lines)(results["summary"])


def _label(results: dict) -> str:
    model = results["model"]
    if "path" not in model:
        return f"stand-in `{model['stand_in']}`"
    if model.get("kind") == "cg-forcefield":
        segments = results["settings"].get("forcefield_segments", 1)
        return (f"`{Path(model['path']).name}` (CG force field by TorchForce, LangevinMiddleIntegrator "
                f"{model['timestep_ps'] * 1e3:g} fs, friction {model['friction_per_ps']:g}/ps"
                + (f", {segments} segments per replica" if segments > 1 else "") + ")")
    noise = ("diffusion" if model.get("score_sampler") == "diffusion"
             else "Langevin" if model.get("score_noise") else "deterministic")
    if model.get("score_correctors"):
        noise += f" with correctors at levels {','.join(str(i) for i in model['score_correctors'])}"
    coupled = f", noise coupled to degree {model['noise_degree']}" if model.get("noise_degree") else ""
    coupled += f", spread × {model['noise_scale']:g}" if model.get("noise_scale", 1.0) != 1.0 else ""
    seed = results.get("settings", {}).get("seed", 1)
    coupled += f", CG seed {seed}" if seed != 1 else ""
    repeats = results.get("settings", {}).get("repeats", 1)
    coupled += f", mean of {repeats} CG repeats" if repeats > 1 else ""
    weights = f"weights {model['weights_sha256'][:12]}, " if model.get("weights_sha256") else ""
    return f"`{Path(model['path']).name}` ({weights}{model['score_calls']} calls, {noise}{coupled})"


def _polymer_speed(results: dict) -> tuple[str, str]:
    """(CG, MD) simulated ps per wall second, medians over the sequences of a polymer run."""
    def median(key):
        values = [f.get(key) for f in results["per_sequence"].values()]
        return "n/a" if any(v is None for v in values) else f"{float(np.median(values)):.0f}"
    return median("cg_ps_per_wall_s"), "MD " + median("md_ps_per_wall_s")


def _interval(v: dict) -> str:
    return f"{v['value']:.3g} [{v['low']:.3g}, {v['high']:.3g}]"


def _timescale(side: dict) -> str:
    """The slowest implied timescale at the longest lag with its interval; n/a for runs made before it was measured."""
    figure = side.get("slowest_timescale_lag4_ns")
    return _interval(figure) if figure else "n/a"


def equilibrium_table(runs: list[dict]) -> str:
    """benchmarks/peptide_equilibrium.py runs: a row per model (its share of one-step jumps into alphaL
    from each split's MD histories in beta, its copies' state statistics, the alphaL population of the
    first and second halves of their runs, the Ramachandran JS against each MD reference, the speed of
    the batched step), then a row per MD reference of the first run (MD's own jump share from the first run that has it)."""
    first = runs[0]["summary"]
    splits = list(first["md_ns"])
    head = [f"{runs[0]['split']} split starts; " + "; ".join(f"`{r['command']}`" for r in runs), "",
            "| run | simulated ns | one step from MD's histories in beta: next frame in alphaL | alphaL population | alphaL, first half → second half | helical-psi population | "
            "beta→alphaL per ns in beta | slowest implied timescale at 4 steps (ns) | "
            + " | ".join(f"JS vs MD {s} (bits)" for s in splits) + " | ns per wall s |",
            "|---|---:|---|---|---|---|---|---|" + "---:|" * len(splits) + "---:|"]
    body = []
    for r in runs:
        s, sides = r["summary"], r["summary"]["sides"]
        label = _label(r)[:-1] + f", σ₀ {r['model']['score_sigmas_nm'][0]:.2g} nm)"
        step = ", ".join(f"{j['cg']:.4f} ({split})" for split, j in s.get("one_step_jumps", {}).items()) or "n/a"
        body.append(f"| {label} | {s['cg_ns']:.0f} ({s['copies']} copies) | {step} | {_interval(sides['cg']['population_alphaL'])} | "
                    f"{sides['cg_first_half']['population_alphaL']['value']:.3g} → "
                    f"{sides['cg_second_half']['population_alphaL']['value']:.3g} | "
                    f"{_interval(sides['cg']['population_helical_psi'])} | {_interval(sides['cg']['rate_beta_to_alphaL_per_ns'])} | "
                    f"{_timescale(sides['cg'])} | " + " | ".join(f"{s['ramachandran_js_bits'][split]:.3f}" for split in splits)
                    + f" | {s['cg_ns_per_wall_s']:.1f} |")
    for split in splits:
        md = first["sides"][f"md_{split}"]
        jumps = next((r["summary"]["one_step_jumps"][split] for r in runs if split in r["summary"].get("one_step_jumps", {})),
                     None)
        step = f"{jumps['md']:.4f}" if jumps else ""
        body.append(f"| MD, {split} split | {first['md_ns'][split]:.0f} | {step} | "
                    f"{_interval(md['population_alphaL'])} | | "
                    f"{_interval(md['population_helical_psi'])} | {_interval(md['rate_beta_to_alphaL_per_ns'])} | "
                    f"{_timescale(md)} | " + " | ".join("" for _ in splits) + " | |")
    return "\n".join(head + body) + "\n"


SPREAD_FIGURES = (("rg_mean_nm", "mean Rg"), ("rg_sd_nm", "Rg spread"), ("decorrelation", "decorrelation in one step"),
                  ("tau_efold_ps", "τ(Rg²) 1/e"))


def spread_table(runs: list[dict]) -> str:
    """``benchmarks/sequence_spread.py`` runs: per model and split, the slope of log CG on log MD of each
    figure with its interval (MD halves' slope, the ceiling, in a row of its own) and the median ratio."""
    splits = runs[0]["splits"]
    head = ["; ".join(f"`{r['command']}`" for r in runs), "",
            "| model | split | " + " | ".join(f"{label}: slope [95 %]; median CG/MD" for _, label in SPREAD_FIGURES) + " |",
            "|---|---|" + "---|" * len(SPREAD_FIGURES)]
    body = []
    for r in runs:
        name = f"`{Path(r['model']['path']).name}` ({r['model']['weights_sha256'][:12]})"
        for split in splits:
            s = r["summary"][split]
            body.append(f"| {name} | {split} ({s['sequences']}) | " + " | ".join(
                f"{_interval(s[key]['slope'])}; {_number(s[key]['median_ratio']['value'])}" for key, _ in SPREAD_FIGURES) + " |")
    for split in splits:
        s = runs[0]["summary"][split]
        body.append(f"| MD, second half of each run on its first | {split} | " + " | ".join(
            _interval(s[key]["ceiling_slope"]) for key, _ in SPREAD_FIGURES) + " |")
    return "\n".join(head + body) + "\n"


def comparison(paths: list[Path]) -> str:
    runs = [json.loads(path.read_text()) for path in paths]
    if "sequence_spread.py" in runs[0].get("command", ""):
        return spread_table(runs)
    if runs[0]["benchmark"] == "peptide-equilibrium":
        return equilibrium_table(runs)
    rows = [dict((name.split(" / MD's")[0], (cg, ceiling)) for name, cg, ceiling in _lines(r)) for r in runs]
    if runs[0]["benchmark"] == "polymer":
        for row, r in zip(rows, runs):
            row["simulated ps per wall second per chain, one core (median)"] = _polymer_speed(r)
    every = list(dict.fromkeys(name for row in rows for name in row))  # a figure some runs lack (per repeat) reads n/a there
    names = [name for name in every if runs[0]["benchmark"] != "polymer" or any(key in name for key in KEY_FIGURES)]
    rows = [{name: row.get(name, ("n/a", "n/a")) for name in every} for row in rows]
    copies = data_copies(runs, rows)
    groups = list(dict.fromkeys(copies))
    labels = [_label(r) + (f", data {groups.index(c) + 1}" if len(groups) > 1 else "") for r, c in zip(runs, copies)]
    ceilings = ["MD ceiling"] if len(groups) == 1 else [f"MD ceiling, data {k + 1}" for k in range(len(groups))]
    head = [f"{runs[0]['split']} split; " + "; ".join(f"`{r['command']}`" for r in runs), ""]
    if len(groups) > 1:
        head += [f"These runs were measured on {len(groups)} copies of the classical data (regenerated, and Reference-platform "
                 "MD is not bit-for-bit the same on another processor): read each column against the ceiling of its own data.", ""]
    head += ["| figure | " + " | ".join(labels) + " | " + " | ".join(ceilings) + " |",
             "|---|" + "---|" * (len(runs) + len(ceilings))]

    def ceiling(name, group):
        return next((row[name][1] for row, c in zip(rows, copies) if c == group and row[name][1] != "n/a"), "n/a")

    body = [f"| {name} | " + " | ".join(row[name][0] for row in rows) + " | "
            + " | ".join(ceiling(name, group) for group in groups) + " |" for name in names]
    return "\n".join(head + body) + "\n"


def data_copies(runs: list[dict], rows: list[dict]) -> list:
    """Which copy of the classical data each run was measured on: the results' data fingerprint where
    every run records one, otherwise the MD floors of the JS figures all runs show (the same data give
    the same floors; their bootstrap intervals follow each run's seed)."""
    if all(r.get("data_fingerprint") for r in runs):
        return [r["data_fingerprint"] for r in runs]
    common = [name for name in rows[0] if "JS" in name and all(row[name][1] != "n/a" for row in rows)]
    return [tuple(row[name][1].split(" [")[0] for name in common) for row in rows]  # the floors, not their intervals (seeded per run)


def gates(path: Path) -> str:
    """Every fidelity gate of a benchmark's results (``benchmark.gates``), model and ceiling."""
    results = json.loads(path.read_text())
    return f"`{results['command']}`\n\n" + "\n".join(output.gate_rows(results["summary"])) + "\n"


def rewrite(document: Path) -> int:
    text = document.read_text()
    count = 0

    def replace(match):
        nonlocal count
        count += 1
        paths = [ROOT / path for path in match.group("path").split()]
        kind = match.group("kind")
        body = table(paths[0]) if kind == "table" else comparison(paths) if kind == "compare" else gates(paths[0])
        return match.group(1) + body + match.group(5)

    document.write_text(BLOCK.sub(replace, text))
    return count


if __name__ == "__main__":
    for name in sys.argv[1:] or ["README.md"]:
        print(f"{name}: {rewrite(Path(name))} tables rewritten")
