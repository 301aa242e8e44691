"""Where a CG step's time goes: the bundle's bare ``step`` profiled by operator (torch profiler, CPU,
one thread), for one copy of the polymer chain and for many copies in one graph.

The inputs are those of ``benchmarks/replicas.py`` (the 20-monomer chain of the shipped polymer model,
copies on a 4 nm grid), the bundle frozen as the C++ integrator freezes it and run in TorchScript
(``integrator_overhead.bare_runner``).  For each copy count it prints the time per step (unprofiled),
the operators called per step, and the operators that take the most self time, with calls and
microseconds per step; it writes benchmarks/results/profile_step.json.  At 20 beads the step is
operator dispatch, not arithmetic: the number of operators per step is the figure to cut.  Given
several bundles (e.g. one exported before a change and one after, same weights), their steps are
timed in alternation on the same inputs and the ratio of each to the first is printed.

    python benchmarks/profile_step.py [--model BUNDLE ...] [--copies 1 64] [--rows 15] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import platform as host
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from integrator_overhead import bare_runner, per_call  # noqa: E402
from replicas import copies_of  # noqa: E402
from speed import POLYMER_SEQUENCE, bare_inputs  # noqa: E402

from openmm_cgml.benchmark.sources import bundle_settings  # noqa: E402
from openmm_cgml.bundle import shipped_model  # noqa: E402
from openmm_cgml.systems import polymers  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "profile_step.json"


def profile(run, steps: int, rows: int) -> dict:
    """Operators of ``run(steps)`` by self CPU time: per step, the calls and µs of the top ``rows``."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        run(steps)
    events = [e for e in profiler.key_averages() if e.key.startswith("aten::") or e.key.startswith("prim::")]
    total_us = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return {"operators_per_step": sum(e.count for e in events) / steps,
            "profiled_us_per_step": total_us / steps,
            "top": [{"operator": e.key, "calls_per_step": e.count / steps, "self_us_per_step": e.self_cpu_time_total / steps,
                     "share": e.self_cpu_time_total / total_us} for e in events[:rows]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=None, help="bundles (default: the shipped polymer model)")
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--rows", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    bundles = [Path(m) for m in args.model] if args.model else [shipped_model("polymer")]
    molecule = polymers.build(POLYMER_SEQUENCE, 1)
    settings = [bundle_settings(b) for b in bundles]  # paths inside the repository recorded relative to it
    report = {"command": "python benchmarks/" + " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
              "cpu": host.processor() or host.machine(), "torch_threads": 1, "torch_version": torch.__version__,
              "model": settings[0], "sequence": POLYMER_SEQUENCE, "rows": []}
    if len(bundles) > 1:
        report["models"] = settings
    for copies in args.copies:
        topology, system, positions = copies_of(molecule, copies)
        runs = []
        for bundle in bundles:
            module, _, mapping, atoms, centres, bead_bonds = bare_inputs(bundle, topology, system, positions)
            runs.append(bare_runner(module, atoms, centres, bead_bonds))
        steps = max(2, 200 // (copies * len(POLYMER_SEQUENCE)) + 1)
        times = per_call(runs, [steps] * len(runs), args.repeats)  # in alternation
        for shown, run, seconds in zip(settings, runs, times):
            row = {"copies": copies, "beads": mapping.n_beads, "model": shown["path"], "step_ms": 1e3 * seconds,
                   "over_first": times[0] / seconds, **profile(run, steps, args.rows)}
            report["rows"].append(row)
            print(f"{copies} copies ({mapping.n_beads} beads), {row['model']}: {row['step_ms']:.2f} ms per step"
                  + (f" ({row['over_first']:.2f} x the first bundle's speed)" if len(bundles) > 1 else "")
                  + f", {row['operators_per_step']:.0f} operators per step", flush=True)
            for top in row["top"]:
                print(f"  {top['operator']:28s} {top['calls_per_step']:7.0f} calls {top['self_us_per_step']:9.0f} µs "
                      f"{100 * top['share']:5.1f} %", flush=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
