"""The speed targets, one line per figure: value, interval where there is one, target, met or missed.

Read from the JSON the other benchmarks wrote (nothing is timed here), so ``make bench`` ends with it:

- effective speed-up (``benchmarks/effective_speed.py``) on the alanine-dipeptide kinetics benchmark
  (≥ 10³) and on the polymer benchmark (≥ 10²), counted only for a model that passes every fidelity
  gate (``benchmark.gates``); a model's figure is its slowest observable (the smallest t_MD / t_CG);
- a 20-bead polymer step, one copy, one torch thread, idle machine (``benchmarks/speed.py``): ≤ 2 ms;
- 64 copies per step against one copy per step, aggregate throughput (``benchmarks/replicas.py``): ≥ 10;
- integrator step over the bare bundle step, worst row (``benchmarks/speed.py``): ≤ 1.2;
- step time from 10³ to 10⁴ beads (``benchmarks/speed.py``): ≤ 12.

Writes benchmarks/results/targets.json (the README's table is made from it).

    python benchmarks/targets.py [--results benchmarks/results] [--split validation]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from openmm_cgml.benchmark import output
from openmm_cgml.benchmark.gates import gates_of
from openmm_cgml.files import write_atomically

ROOT = Path(__file__).resolve().parents[1]


def passes(results: dict) -> bool:
    """Whether a benchmark run's model meets every gate.  A gate its MD-vs-MD ceiling misses cannot
    be waived: the data cannot tell a faithful model there (a polymer replay 2.5 times too slow meets
    every gate its ceiling meets on the test split), so no model passes until the data can judge."""
    return all(gate["met"] for gate in gates_of(results["summary"], "cg"))


def effective_line(path: Path, name: str, target: float) -> dict:
    """The best gate-passing model's slowest observable in an effective-speed JSON."""
    line = {"figure": name, "target": f"≥ {target:g}, with a model that passes the gates", "source": _shown(path)}
    if not path.is_file():
        return line | {"value": None, "met": False, "note": "not measured"}
    best = None
    for model in json.loads(path.read_text())["models"]:
        results = json.loads((ROOT / model["results"]).read_text())
        if not passes(results):
            continue
        slowest = min(model["figures"].items(), key=lambda item: item[1]["value"])
        if best is None or slowest[1]["value"] > best[1]["value"]:
            best = (Path(model["model"]["path"]).name, slowest[1], slowest[0])
    if best is None:
        return line | {"value": None, "met": False, "note": "no model in it passes the fidelity gates"}
    model, figure, observable = best
    return line | {"value": figure["value"], "interval": [figure["low"], figure["high"]], "met": figure["value"] >= target,
                   "note": f"{model}, {observable}"}


def speed_lines(results: Path) -> list[dict]:
    """The step-cost, batching, overhead and growth lines."""
    lines = []
    speed_path, replicas_path = results / "speed.json", results / "replicas.json"
    if speed_path.is_file():
        speed = json.loads(speed_path.read_text())
        one = speed["threads_property"]["idle"]["threads_1_ms"]
        overhead = max(row["integrator_over_bare"] for row in speed["versus_classical"])
        lines += [{"figure": "20-bead polymer step, one copy, one thread (ms)", "value": one, "target": "≤ 2",
                   "met": one <= 2.0, "source": _shown(speed_path)},
                  {"figure": "integrator step / bare bundle step, worst system", "value": overhead, "target": "≤ 1.2",
                   "met": overhead <= 1.2, "source": _shown(speed_path)},
                  {"figure": "step time growth from 10³ to 10⁴ beads", "value": speed["growth_1e3_to_1e4"],
                   "target": "≤ 12", "met": speed["growth_1e3_to_1e4"] <= 12.0, "source": _shown(speed_path)}]
    if replicas_path.is_file():
        rows = [row for row in json.loads(replicas_path.read_text())["rows"] if row["copies"] == 64]
        if rows:
            gain = max(row["throughput_over_one_copy"] for row in rows)
            lines.append({"figure": "64 copies per step / one copy per step, aggregate throughput", "value": gain,
                          "target": "≥ 10", "met": gain >= 10.0, "source": _shown(replicas_path)})
    return lines


def _shown(path: Path) -> str:
    path = Path(path).absolute()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def text(line: dict) -> str:
    return f"{line['figure']}: {output.target_value(line)} | target {line['target']} | {'met' if line['met'] else 'missed'}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results"), help="folder of the benchmarks' JSON")
    parser.add_argument("--split", default="validation", help="split of the effective-speed JSON (default validation)")
    parser.add_argument("--out", help="JSON to write (default RESULTS/targets.json)")
    args = parser.parse_args(argv)
    results = Path(args.results)
    lines = [effective_line(results / args.split / "effective-peptide.json", "effective speed-up, alanine dipeptide kinetics", 1e3),
             effective_line(results / args.split / "effective-polymer.json", "effective speed-up, polymer mean Rg", 1e2)]
    lines += speed_lines(results)
    for line in lines:
        print(text(line))
    out = Path(args.out) if args.out else results / "targets.json"
    document = json.dumps({"command": "python benchmarks/targets.py", "split": args.split, "lines": lines}, indent=1) + "\n"
    write_atomically(out, lambda temporary: Path(temporary).write_text(document))
    print(f"results: {_shown(out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
