"""Many replicas per step: aggregate simulated time per wall second of N copies of a polymer chain
advanced by one CGMLIntegrator (property IndependentMolecules), against one copy per step and against
classical OpenMM, every figure a ratio measured in this one run.

The copies (the shipped polymer model's 20-monomer chain, each in its own self-avoiding coil, on a
cubic grid 4 nm apart) are one System of N × 60 particles; its CG steps evaluate no forces, so the
System holds the particles and their masses only.  For each N (1, 8, 64, 256 by default) a CG step
is timed with 1 torch thread and with one per core, and its aggregate throughput is compared with
one copy per step at its best thread count.  The classical baseline is the fastest platform
for one copy (Reference or CPU, one thread), LangevinMiddleIntegrator at the polymer family's 0.02 ps
step, scaled ideally over all cores (N independent runs, one per core at a time): the best a
classical set-up of separate runs can do on this machine.  Prints one line per figure and writes
benchmarks/results/replicas.json.

    python benchmarks/replicas.py [--copies 1 8 64 256] [--seconds 0.5]
"""
from __future__ import annotations

import argparse
import json
import os
import platform as host
import sys
import time
from pathlib import Path

import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classical_baseline import platform_setups, time_classical  # noqa: E402
from integrator_overhead import per_call  # noqa: E402
from speed import POLYMER_SEQUENCE, chain_conformation  # noqa: E402

import openmm_cgml  # noqa: E402
from openmm_cgml.benchmark.sources import bundle_settings  # noqa: E402
from openmm_cgml.bundle import shipped_model  # noqa: E402
from openmm_cgml.systems import polymers  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "replicas.json"
GRID_NM = 4.0  # spacing of the copies' grid


def copies_of(molecule, copies: int):
    """Topology, particle-only System and positions (nm) of ``copies`` copies of ``molecule``, each
    in its own coil (``chain_conformation`` with seed = copy number), on a cubic grid."""
    side = int(np.ceil(copies ** (1 / 3)))
    modeller = app.Modeller(app.Topology(), [])
    system = openmm.System()
    positions = []
    for copy in range(copies):
        grid = GRID_NM * np.array([copy % side, (copy // side) % side, copy // side ** 2], dtype=float)
        coil = chain_conformation(POLYMER_SEQUENCE, seed=copy) + grid
        modeller.add(molecule.topology, coil * unit.nanometer)
        for i in range(molecule.system.getNumParticles()):
            system.addParticle(molecule.system.getParticleMass(i))
        positions.append(coil)
    return modeller.topology, system, np.concatenate(positions)


def cg_runner(bundle, molecule, copies: int, threads: int):
    """A CG step of ``copies`` replicas (after 3 steps that fill the history) and its Context."""
    topology, system, positions = copies_of(molecule, copies)
    integrator = openmm_cgml.create_integrator(str(bundle), topology, system, independent_molecules=True)
    integrator.setRandomNumberSeed(1)
    integrator.setProperty("Threads", str(threads))
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(positions)
    integrator.step(3)
    return integrator, context


def classical_baseline(molecule, repeats: int) -> dict:
    """Time per classical step of one copy on the Reference platform and the CPU platform with one
    thread (``classical_baseline.time_classical``), and the faster of the two."""
    rows = time_classical("one copy", molecule, platform_setups(1), repeats)
    best = min(rows, key=lambda row: row["step_us"])
    return {"platform": best["platform"], "step_us": {row["platform"]: row["step_us"] for row in rows},
            "step_ps": molecule.timestep_ps, "ps_per_s_one_copy": best["ps_per_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 8, 64, 256])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    bundle = shipped_model("polymer")
    molecule = polymers.build(POLYMER_SEQUENCE, 1)
    classical = classical_baseline(molecule, args.repeats)
    print(f"classical, one copy: {classical['ps_per_s_one_copy']:.0f} ps/s ({classical['platform']}, "
          f"{classical['step_us'][classical['platform']]:.1f} us per {molecule.timestep_ps:g} ps step)", flush=True)
    rows = []
    for copies in args.copies:
        for threads in sorted({1, cores}):
            integrator, context = cg_runner(bundle, molecule, copies, threads)
            tic = time.perf_counter()
            integrator.step(1)
            calls = max(1, int(0.5 / max(time.perf_counter() - tic, 1e-6)))
            t = per_call([integrator.step], [calls], args.repeats)[0]
            step_ps = integrator.getStepSize().value_in_unit(unit.picosecond)
            classical_aggregate = classical["ps_per_s_one_copy"] * min(cores, copies)
            row = {"copies": copies, "beads": copies * len(POLYMER_SEQUENCE), "threads": threads, "cg_step_ms": 1e3 * t,
                   "cg_ps_per_s": copies * step_ps / t, "classical_ps_per_s": classical_aggregate,
                   "versus_classical": copies * step_ps / t / classical_aggregate}
            rows.append(row)
            del context
    best_one = max((r["cg_ps_per_s"] for r in rows if r["copies"] == 1), default=float("nan"))
    for row in rows:  # against one copy per step at its best thread count
        row["throughput_over_one_copy"] = row["cg_ps_per_s"] / best_one
        print(f"{row['copies']} copies ({row['beads']} beads), {row['threads']} thread(s): {row['cg_step_ms']:.2f} ms per step, "
              f"{row['cg_ps_per_s']:.0f} ps/s in all, {row['throughput_over_one_copy']:.1f} x one copy per step, "
              f"{row['versus_classical']:.1f} x classical on {min(cores, row['copies'])} core(s)", flush=True)
    result = {"command": "python benchmarks/" + " ".join([Path(sys.argv[0]).name] + sys.argv[1:]), "cpus": cores,
              "cpu": host.processor() or host.machine(), "torch_threads_per_step": sorted({1, cores}),
              "model": bundle_settings(bundle),
              "sequence": POLYMER_SEQUENCE, "grid_nm": GRID_NM, "cg_platform": "Reference", "classical": classical,
              "classical_scaling": "ideal: one copy's time, copies spread over all cores", "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
