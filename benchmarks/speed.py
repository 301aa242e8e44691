"""Speed of the learned CG integrator: every figure a ratio measured in this one run.

(a) simulated time per wall second, CGMLIntegrator against classical OpenMM (LangevinMiddleIntegrator)
    on the same System and platform: the shipped polymer model on a 20-monomer chain (classical step
    and friction of the polymer family), the shipped peptide models on alanine dipeptide (amber14 +
    GBn2, 2 fs): ``peptide`` (CG step 2 ps) and ``peptide-1ns`` (CG step 1 ns);
(b) time of one integrator step over the bare bundle ``step`` on the same tensors (both looped without
    Python in between, as in integrator_overhead.py), for the same three bundles;
(c) time per CG step of the polymer model for chains of 10², 10³ and 10⁴ beads (polymers.build chains,
    one bead per monomer, in self-avoiding random-walk conformations, so that beads have neighbours
    all around as in a coil rather than the few of the extended start), and the growth from 10³ to
    10⁴ beads (10 for linear cost);
(d) peak memory (RSS) of each size, each size in its own process;
(e) the integrator's Threads property: a polymer step with 1 torch thread against one per core, on
    an idle machine and beside one busy process (the oversubscription the default of 1 avoids).

(c) times all sizes in one process, alternating them round by round, so that their growth is a
ratio measured under the same machine conditions.

Loops are warmed up and timed best-of-N, alternating the runners being compared.  Prints one ratio
line per figure and writes benchmarks/results/speed.json with the command line.

    python benchmarks/speed.py [--platforms CPU Reference] [--sizes 100 1000 10000] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import os
import platform as host
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import openmm
import openmm.unit as unit
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from integrator_overhead import bare_runner, per_call  # noqa: E402

import openmm_cgml  # noqa: E402
from openmm_cgml.benchmark.sources import bundle_settings  # noqa: E402
from openmm_cgml.bundle import load_bundle, shipped_model  # noqa: E402
from openmm_cgml.features import atom_bonds, atom_features  # noqa: E402
from openmm_cgml.mapping import BeadMapping  # noqa: E402
from openmm_cgml.nn import bead_graph  # noqa: E402
from openmm_cgml.systems import peptides, polymers  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "speed.json"
POLYMER_SEQUENCE = "SRRSRRRSRSRSRSRSHSRR"
TARGET_SECONDS = 0.2  # length of one timed loop


def context_for(system, integrator, platform_name, threads):
    properties = {"Threads": str(threads)} if platform_name == "CPU" else {}
    return openmm.Context(system, integrator, openmm.Platform.getPlatformByName(platform_name), properties)


def cg_integrator(bundle, molecule, threads):
    """The learned integrator for ``molecule`` (seed 1), its steps on ``threads`` torch threads."""
    integrator = openmm_cgml.create_integrator(str(bundle), molecule.topology, molecule.system)
    integrator.setRandomNumberSeed(1)
    integrator.setProperty("Threads", str(threads))
    return integrator


def calls_for(run, target=TARGET_SECONDS):
    """Calls of ``run(n)`` that take about ``target`` seconds (from one timed call after one warm-up)."""
    run(1)
    tic = time.perf_counter()
    run(1)
    return max(1, int(target / max(time.perf_counter() - tic, 1e-7)))


def bare_inputs(bundle, topology, system, positions):
    """What the integrator hands the bundle: atom inputs of ``embed``, bead centres (n_beads, 3) nm and
    bead bonds, with the mapping the bundle was trained with (as create_integrator picks it)."""
    module, metadata = load_bundle(bundle)
    mapping = BeadMapping.from_metadata(metadata, topology, system)
    bonds = atom_bonds(topology)
    atoms = (torch.tensor(atom_features(topology), dtype=torch.int64), torch.tensor(bonds, dtype=torch.int64).T.contiguous(),
             torch.tensor(mapping.bead_of_atom, dtype=torch.int64), torch.tensor(mapping.atom_masses, dtype=torch.float64))
    return module, metadata, mapping, atoms, mapping.centres(positions), mapping.bead_bonds(bonds)


def edges_per_bead(metadata, centres, bead_bonds):
    config = metadata.get("model_config") or {}
    bonds = torch.tensor(bead_bonds, dtype=torch.int64).reshape(-1, 2).T
    edges = bead_graph(torch.as_tensor(centres, dtype=torch.float64), bonds, float(config.get("cutoff_nm", 1.0)),
                       None, int(config.get("max_neighbors", -1)))[0]
    return edges.shape[1] / len(centres)


def versus_classical(name, bundle, molecule, platforms, threads, repeats):
    """(a) CG against classical simulated time per wall second, and (b) integrator over bare step."""
    rows = []
    for platform_name in platforms:
        integrator = cg_integrator(bundle, molecule, threads)
        cg = context_for(molecule.system, integrator, platform_name, threads)
        cg.setPositions(molecule.positions)
        integrator.step(5)  # leave the start, fill the history
        md_integrator = openmm.LangevinMiddleIntegrator(molecule.temperature_k * unit.kelvin,
                                                        molecule.friction_per_ps / unit.picosecond,
                                                        molecule.timestep_ps * unit.picosecond)
        md_integrator.setRandomNumberSeed(1)
        md = context_for(molecule.system, md_integrator, platform_name, threads)
        md.setPositions(molecule.positions)
        md.setVelocitiesToTemperature(molecule.temperature_k * unit.kelvin, 1)
        md_integrator.step(100)
        positions = cg.getState(getPositions=True).getPositions(asNumpy=True)
        module, metadata, mapping, atoms, centres, bead_bonds = bare_inputs(bundle, molecule.topology, molecule.system, positions)
        bare = bare_runner(module, atoms, centres, bead_bonds)
        # One alternating loop for (a) and (b): the three runners meet the same machine conditions.
        counts = [calls_for(integrator.step), calls_for(md_integrator.step), calls_for(bare)]
        t_cg, t_md, t_bare = per_call([integrator.step, md_integrator.step, bare], counts, repeats)
        t_integrator = t_cg
        cg_step = integrator.getStepSize().value_in_unit(unit.picosecond)
        row = {"system": name, "platform": platform_name, "atoms": molecule.system.getNumParticles(),
               "beads": mapping.n_beads, "edges_per_bead": edges_per_bead(metadata, centres, bead_bonds),
               "cg_step_ps": cg_step, "classical_step_ps": molecule.timestep_ps,
               "cg_step_ms": 1e3 * t_cg, "classical_step_us": 1e6 * t_md,
               "cg_ps_per_s": cg_step / t_cg, "classical_ps_per_s": molecule.timestep_ps / t_md,
               "speed_ratio": (cg_step / t_cg) / (molecule.timestep_ps / t_md),
               "integrator_step_ms": 1e3 * t_integrator, "bare_step_ms": 1e3 * t_bare,
               "integrator_over_bare": t_integrator / t_bare}
        rows.append(row)
        print(f"(a) {name} ({row['atoms']} atoms, {row['beads']} beads, {platform_name}): CG {row['cg_ps_per_s']:.0f} ps/s "
              f"({row['cg_step_ms']:.2f} ms per {cg_step:g} ps step) vs classical {row['classical_ps_per_s']:.1f} ps/s "
              f"({row['classical_step_us']:.1f} us per {molecule.timestep_ps:g} ps step): ratio {row['speed_ratio']:.1f}", flush=True)
        print(f"(b) {name} ({platform_name}): integrator step {row['integrator_step_ms']:.3f} ms / bare step "
              f"{row['bare_step_ms']:.3f} ms: ratio {row['integrator_over_bare']:.3f}", flush=True)
        del cg, md
    return rows


def chain_conformation(sequence, seed=0, step_nm=0.45, closest_nm=0.5, tries=50):
    """Positions (nm) of a polymers.build chain whose bead centres (one per monomer) follow a
    self-avoiding random walk: steps of ``step_nm``, no two beads closer than ``closest_nm``, as in the
    reference runs (a plain random walk puts beads on top of each other, which a trained model never saw).
    Each monomer's three particles lie on a line through its centre; only the centres matter to the
    CG integrator (no forces act under it)."""
    rng = np.random.default_rng(seed)
    cells: dict = {}

    def key(x):
        return tuple(np.floor(x / closest_nm).astype(int))

    def free(x, previous):
        i, j, k = key(x)
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                for dk in (-1, 0, 1):
                    for index in cells.get((i + di, j + dj, k + dk), ()):
                        if index != previous and np.linalg.norm(centres[index] - x) < closest_nm:
                            return False
        return True

    centres = np.zeros((len(sequence), 3))
    cells[key(centres[0])] = [0]
    i = 1
    while i < len(sequence):
        for _ in range(tries):
            d = rng.normal(size=3)
            x = centres[i - 1] + step_nm * d / np.linalg.norm(d)
            if free(x, i - 1):
                centres[i] = x
                cells.setdefault(key(x), []).append(i)
                i += 1
                break
        else:  # trapped: take back the last beads and walk on from there
            back = max(1, i - 20)
            for j in range(back, i):
                cells[key(centres[j])].remove(j)
            i = back
    # Particle offsets along a random direction u so that the mass-weighted centre is the bead centre.
    masses = np.array([polymers.BACKBONE["mass"], polymers.SIDE_MASS, polymers.SIDE_MASS])
    offsets = np.array([0.0, polymers.BOND_NM["bs"], polymers.BOND_NM["bs"] + polymers.BOND_NM["ss"]])
    offsets -= (masses * offsets).sum() / masses.sum()
    u = rng.normal(size=(len(sequence), 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return (centres[:, None, :] + offsets[None, :, None] * u[:, None, :]).reshape(-1, 3)


def chain_run(bundle, n_beads, threads):
    """A polymers.build chain of ``n_beads`` monomers in a coil, in a CPU Context with the CG integrator,
    after 4 CG steps; and what the bare ``step`` needs at its positions (``bare_inputs``)."""
    sequence = polymers.random_sequences(1, n_beads, seed=0)[0]
    molecule = polymers.build(sequence, 1)
    integrator = cg_integrator(bundle, molecule, threads)
    context = context_for(molecule.system, integrator, "CPU", threads)
    context.setPositions(chain_conformation(sequence))
    rss_before = memory_mb("VmRSS")
    integrator.step(1)  # the first step also runs embed() and compiles the bundle's graphs
    peak_first = memory_mb("VmHWM")
    reset_peak_memory()
    integrator.step(3)
    peak_steps = memory_mb("VmHWM")
    state = context.getState(getPositions=True).getPositions(asNumpy=True)
    memory = {"rss_before_steps_mb": rss_before, "peak_rss_first_step_mb": peak_first,
              "peak_rss_later_steps_mb": peak_steps, "peak_rss_mb": max(peak_first, peak_steps),
              "peak_over_before_mb": max(peak_first, peak_steps) - rss_before,
              "later_steps_over_before_mb": peak_steps - rss_before}
    return molecule, integrator, context, memory, bare_inputs(bundle, molecule.topology, molecule.system, state)


def one_size(bundle, n_beads, threads):
    """(d) for one chain length, alone in this process: peak RSS, and the graph's size."""
    torch.set_num_threads(threads)
    molecule, _, _, memory, (_, metadata, mapping, _, centres, bead_bonds) = chain_run(bundle, n_beads, threads)
    return {"beads": mapping.n_beads, "atoms": molecule.system.getNumParticles(),
            "edges_per_bead": edges_per_bead(metadata, centres, bead_bonds), **memory}


def step_times(bundle, sizes, threads, repeats):
    """(c) time per CG step of every size, integrator and bare step, all in this process and timed in
    alternation (best of ``repeats`` rounds), so that the growth between sizes is one run's ratio."""
    torch.set_num_threads(threads)
    runners, counts, keep = [], [], []
    for n in sizes:
        molecule, integrator, context, _, (module, _, _, atoms, centres, bead_bonds) = chain_run(bundle, n, threads)
        runners += [integrator.step, bare_runner(module, atoms, centres, bead_bonds, warmup=3 if n <= 1000 else 2)]
        counts += [max(1, int(TARGET_SECONDS / 0.15e-3 / n))] * 2  # about 0.15 ms per bead and step
        keep.append(context)
    times = per_call(runners, counts, repeats)
    return [{"beads": n, "integrator_step_ms": 1e3 * times[2 * i], "bare_step_ms": 1e3 * times[2 * i + 1],
             "integrator_us_per_bead": 1e6 * times[2 * i] / n} for i, n in enumerate(sizes)]


def thread_effect(bundle, repeats):
    """(e) ms per polymer CG step with Threads 1 and one per core, alternated; idle, then beside a busy process."""
    molecule, cores = polymers.build(POLYMER_SEQUENCE, 1), os.cpu_count() or 1
    steps, keep = [], []
    for threads in (1, cores):
        integrator = cg_integrator(bundle, molecule, threads)
        context = context_for(molecule.system, integrator, "CPU", 1)
        context.setPositions(molecule.positions)
        integrator.step(5)
        steps.append(integrator.step)
        keep.append(context)
    result = {"cores": cores}
    for load in ("idle", "one busy process"):
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load != "idle" else None
        try:
            times = per_call(steps, [calls_for(step, 0.1) for step in steps], min(repeats, 3))
        finally:
            if busy:
                busy.kill()
                busy.wait()
        result[load] = {"threads_1_ms": 1e3 * times[0], f"threads_{cores}_ms": 1e3 * times[1], "ratio": times[1] / times[0]}
        print(f"(e) polymer step ({load}): Threads=1 {1e3 * times[0]:.2f} ms, Threads={cores} {1e3 * times[1]:.2f} ms: "
              f"ratio {times[1] / times[0]:.2f}", flush=True)
    return result


def memory_mb(field):
    """VmRSS (resident now) or VmHWM (peak resident since the start or the last reset) in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_memory():
    """Start VmHWM afresh from the current RSS (Linux: write 5 to /proc/self/clear_refs)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def scaling(bundle, sizes, threads, repeats):
    """(c) in one subprocess for all sizes, then (d) in one subprocess per size (peak memory of that size alone)."""
    def child(*flags):
        command = [sys.executable, __file__, *flags, "--polymer-bundle", str(bundle), "--threads", str(threads),
                   "--repeats", str(repeats)]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    times = child("--step-times", *map(str, sizes))
    rows = []
    for n, timing in zip(sizes, times):
        row = {**child("--one-size", str(n)), **timing}
        rows.append(row)
        print(f"(c) {row['beads']:6d} beads ({row['edges_per_bead']:.1f} edges/bead): CG step {row['integrator_step_ms']:9.2f} ms "
              f"({row['integrator_us_per_bead']:.0f} us/bead), bare step {row['bare_step_ms']:9.2f} ms; "
              f"(d) peak RSS {row['peak_rss_mb']:.0f} MB ({row['peak_over_before_mb']:+.0f} MB over the RSS before the first "
              f"step, which also runs embed and compiles the bundle)",
              flush=True)
    if len(rows) > 1:
        print(f"(d) peak RSS {rows[-1]['beads']} over {rows[0]['beads']} beads: "
              f"{rows[-1]['peak_rss_mb'] - rows[0]['peak_rss_mb']:+.0f} MB, ratio {rows[-1]['peak_rss_mb'] / rows[0]['peak_rss_mb']:.2f}")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polymer-bundle", help="default: the shipped polymer model")
    parser.add_argument("--peptide-bundles", nargs="+", help="default: the shipped peptide models")
    parser.add_argument("--platforms", nargs="+", default=["CPU", "Reference"])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1000, 10000])
    parser.add_argument("--threads", type=int, default=1, help="torch threads and OpenMM CPU threads")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (best of)")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)  # (d) for one size, in a subprocess
    parser.add_argument("--step-times", type=int, nargs="+", help=argparse.SUPPRESS)  # (c), in a subprocess
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    polymer_bundle = Path(args.polymer_bundle or shipped_model("polymer"))
    if args.one_size:
        print(json.dumps(one_size(polymer_bundle, args.one_size, args.threads)))
        return 0
    if args.step_times:
        print(json.dumps(step_times(polymer_bundle, args.step_times, args.threads, min(args.repeats, 5))))
        return 0
    peptide_bundles = [Path(b) for b in args.peptide_bundles or [shipped_model("peptide"), shipped_model("peptide-1ns")]]
    bundles = [("polymer", polymer_bundle)] + [(b.stem, b) for b in peptide_bundles]
    started = time.perf_counter()
    report = {"command": " ".join(["python", "benchmarks/speed.py"] + (sys.argv[1:] if argv is None else list(argv))),
              "machine": host.machine(), "cpus": os.cpu_count(), "threads": args.threads,
              "torch": torch.__version__, "openmm": openmm.__version__, "bundles": {}}
    report["bundles"] = {name: bundle_settings(bundle) for name, bundle in bundles}
    rows = versus_classical("polymer", polymer_bundle, polymers.build(POLYMER_SEQUENCE, 1), args.platforms,
                            args.threads, args.repeats)
    for name, bundle in bundles[1:]:
        rows += versus_classical(name, bundle, peptides.load(), args.platforms, args.threads, args.repeats)
    report["versus_classical"] = rows
    cpu = [row for row in rows if row["platform"] == "CPU"]
    if cpu:
        best = max(cpu, key=lambda row: row["speed_ratio"])
        print(f"(a) largest CG over classical on CPU: {best['speed_ratio']:.0f} ({best['system']}, CG step "
              f"{best['cg_step_ps']:g} ps; target >= 10^4)")
        print(f"(b) largest integrator over bare step on CPU: {max(row['integrator_over_bare'] for row in cpu):.3f} "
              f"(target <= 1.2)")
    report["threads_property"] = thread_effect(polymer_bundle, args.repeats)
    report["scaling"] = scaling(polymer_bundle, args.sizes, args.threads, args.repeats)
    by_size = {row["beads"]: row for row in report["scaling"]}
    if 1000 in by_size and 10000 in by_size:
        growth = by_size[10000]["integrator_step_ms"] / by_size[1000]["integrator_step_ms"]
        report["growth_1e3_to_1e4"] = growth
        print(f"(c) CG step growth from 10^3 to 10^4 beads: {growth:.2f} (linear: 10, target <= 12)")
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out} ({report['wall_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
