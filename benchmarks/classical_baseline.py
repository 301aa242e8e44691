"""The best classical set-up on this machine, against which the learned integrator's speed is stated.

For each system of the speed benchmark, classical OpenMM (LangevinMiddleIntegrator, the settings the
reference data were made with) is timed on every platform set-up here: Reference, CPU with one
thread and CPU with one thread per core; for alanine dipeptide (amber14 + GBn2) also with hydrogen-
mass repartitioning (4 amu) at 4 fs, the same Hamiltonian with heavier hydrogens (checked to run
``--stability-ps`` without NaN first).  The shipped models' CG steps are timed in the same run (one
torch thread and one per core), and simulated time per wall second is compared with the fastest
classical set-up and with the set-up the data were made with.  These are raw simulated-time ratios:
none of these models passes the fidelity gates of the benchmark (README), so they are not effective
speed-ups.  Prints one line per set-up and writes benchmarks/results/classical_baseline.json.

    python benchmarks/classical_baseline.py [--repeats 5] [--stability-ps 10]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import openmm
import openmm.unit as unit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from integrator_overhead import per_call  # noqa: E402
from speed import POLYMER_SEQUENCE, calls_for, cg_integrator  # noqa: E402

from openmm_cgml.benchmark.sources import bundle_settings  # noqa: E402
from openmm_cgml.bundle import shipped_model  # noqa: E402
from openmm_cgml.systems import peptides, polymers  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "classical_baseline.json"


def platform_setups(cores: int) -> list[tuple[str, str, dict]]:
    setups = [("Reference", "Reference", {}), ("CPU, 1 thread", "CPU", {"Threads": "1"})]
    if cores > 1:
        setups.append((f"CPU, {cores} threads", "CPU", {"Threads": str(cores)}))
    return setups


def classical_context(molecule, platform: str, properties: dict):
    integrator = openmm.LangevinMiddleIntegrator(molecule.temperature_k * unit.kelvin, molecule.friction_per_ps / unit.picosecond,
                                                 molecule.timestep_ps * unit.picosecond)
    integrator.setRandomNumberSeed(1)
    context = openmm.Context(molecule.system, integrator, openmm.Platform.getPlatformByName(platform), properties)
    context.setPositions(molecule.positions)
    openmm.LocalEnergyMinimizer.minimize(context)
    context.setVelocitiesToTemperature(molecule.temperature_k * unit.kelvin, 1)
    integrator.step(100)
    return integrator, context


def stable_for(molecule, picoseconds: float) -> bool:
    """Whether ``picoseconds`` of classical dynamics keep the energy finite (Reference platform)."""
    integrator, context = classical_context(molecule, "Reference", {})
    integrator.step(int(round(picoseconds / molecule.timestep_ps)))
    return bool(np.isfinite(context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)))


def time_classical(label: str, molecule, setups, repeats: int) -> list[dict]:
    rows = []
    for name, platform, properties in setups:
        integrator, context = classical_context(molecule, platform, properties)
        t = per_call([integrator.step], [calls_for(integrator.step)], repeats)[0]
        rows.append({"setup": label, "platform": name, "step_ps": molecule.timestep_ps, "step_us": 1e6 * t,
                     "ps_per_s": molecule.timestep_ps / t, "ns_per_day": molecule.timestep_ps / t * 86.4})
        print(f"classical {label}, {name}: {rows[-1]['step_us']:.1f} us per {molecule.timestep_ps:g} ps step, "
              f"{rows[-1]['ns_per_day']:.0f} ns/day", flush=True)
        del context
    return rows


def time_cg(name: str, bundle, molecule, cores: int, repeats: int) -> list[dict]:
    rows = []
    for threads in sorted({1, cores}):
        integrator = cg_integrator(bundle, molecule, threads)
        context = openmm.Context(molecule.system, integrator, openmm.Platform.getPlatformByName("Reference"))
        context.setPositions(molecule.positions)
        integrator.step(5)
        t = per_call([integrator.step], [calls_for(integrator.step)], repeats)[0]
        step = integrator.getStepSize().value_in_unit(unit.picosecond)
        rows.append({"model": name, "threads": threads, "step_ps": step, "step_ms": 1e3 * t, "ps_per_s": step / t})
        print(f"CG {name}, {threads} thread(s): {1e3 * t:.2f} ms per {step:g} ps step, {step / t:.0f} ps/s", flush=True)
        del context
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stability-ps", type=float, default=10.0)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    setups = platform_setups(cores)
    polymer = polymers.build(POLYMER_SEQUENCE, 1)
    dipeptide, hmr = peptides.load(environment="gbn2"), peptides.load(environment="gbn2-hmr")
    hmr_stable = stable_for(hmr, args.stability_ps)
    print(f"alanine dipeptide, GBn2 with hydrogen-mass repartitioning at 4 fs: {args.stability_ps:g} ps "
          f"{'without' if hmr_stable else 'WITH'} NaN", flush=True)
    systems = {"polymer": {"as_data": "0.02 ps", "classical": time_classical("0.02 ps (as the data)", polymer, setups, args.repeats),
                           "cg": time_cg("polymer", shipped_model("polymer"), polymer, cores, args.repeats)}}
    classical = time_classical("GBn2, 2 fs (as the data)", dipeptide, setups, args.repeats)
    if hmr_stable:
        classical += time_classical("GBn2 + HMR, 4 fs", hmr, setups, args.repeats)
    systems["alanine dipeptide"] = {"as_data": "GBn2, 2 fs (as the data)", "classical": classical,
                                    "cg": time_cg("peptide", shipped_model("peptide"), dipeptide, cores, args.repeats)
                                    + time_cg("peptide-1ns", shipped_model("peptide-1ns"), dipeptide, cores, args.repeats)}
    for name, result in systems.items():
        best = max(result["classical"], key=lambda r: r["ps_per_s"])
        as_data = min((r for r in result["classical"] if r["setup"].endswith("(as the data)") and r["platform"] == "CPU, 1 thread"),
                      key=lambda r: r["step_us"])
        result["best_classical"] = best
        for model in sorted({r["model"] for r in result["cg"]}):
            cg = max((r for r in result["cg"] if r["model"] == model), key=lambda r: r["ps_per_s"])
            cg["over_best_classical"] = cg["ps_per_s"] / best["ps_per_s"]
            cg["over_data_setup_cpu_1_thread"] = cg["ps_per_s"] / as_data["ps_per_s"]
            print(f"{name}: {model} ({cg['threads']} thread(s)) {cg['over_best_classical']:.0f} x the best classical set-up "
                  f"({best['setup']}, {best['platform']}), {cg['over_data_setup_cpu_1_thread']:.0f} x the data's set-up on "
                  f"the CPU platform with 1 thread", flush=True)
    models = {name: bundle_settings(shipped_model(name)) for name in ("polymer", "peptide", "peptide-1ns")}
    result = {"command": "python benchmarks/" + " ".join([Path(sys.argv[0]).name] + sys.argv[1:]), "cpus": cores,
              "openmm": openmm.__version__, "models": models, "hmr_stable": hmr_stable,
              "stability_ps": args.stability_ps, "systems": systems, "when": time.strftime("%Y-%m-%d")}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
