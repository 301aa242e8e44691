"""Whole-run cost of the learned integrator against classical OpenMM, set-up, hand-off and I/O included,
and the number of runs after which the model has paid for its training data and training.

One run is what a user does with the shipped polymer model: build the Context (integrator, atom
features, embed and TorchScript compilation at the first step), take CG steps for ``--ns`` of
simulated time reading the positions back every ``--report-every`` steps (a reporter's I/O), and
hand the end state back to atoms (``handoff``).  The classical run covers the same simulated time on
the fastest classical set-up for this chain (``benchmarks/classical_baseline.py``: Reference
platform), reading positions back at the same simulated interval.  The model's cost, classical
data plus training, is read from its card (recorded there, not measured here): the seconds of
`cgml reference polymers --standard` on 2 cores and of all its training commands, counted as wall
time on this 2-core machine.  Writes benchmarks/results/whole_run.json.

    python benchmarks/whole_run.py [--ns 40] [--report-every 10]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import openmm
import openmm.unit as unit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classical_baseline import classical_context  # noqa: E402
from speed import POLYMER_SEQUENCE  # noqa: E402

import openmm_cgml  # noqa: E402
from openmm_cgml.benchmark.sources import bundle_settings  # noqa: E402
from openmm_cgml.bundle import shipped_model  # noqa: E402
from openmm_cgml.handoff import handoff  # noqa: E402
from openmm_cgml.systems import polymers  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "whole_run.json"
CARD = Path(__file__).resolve().parents[1] / "openmm_cgml" / "models" / "polymer.md"
# The card's sentences that state the model's cost; the seconds are the one group of each.
COST_PHRASES = {"classical_data": r"the training data,\s+(\d+) s on 2 cores in all",
                "training": r"(\d+) s for the \w+ commands with start-up"}


def model_cost_s(card: Path = CARD) -> dict[str, float]:
    """Seconds of the shipped model's training data and of its training, as its card states them."""
    text = card.read_text()
    cost = {}
    for name, phrase in COST_PHRASES.items():
        found = re.search(phrase, text)
        if found is None:
            raise SystemExit(f"whole_run: {card} no longer states the {name.replace('_', ' ')} cost "
                             f"(no text matching {phrase!r}); say it there, the one place for it")
        cost[name] = float(found.group(1))
    return cost


def timed(function):
    tic = time.perf_counter()
    result = function()
    return result, time.perf_counter() - tic


def cg_run(molecule, ns: float, report_every: int) -> dict:
    bundle = shipped_model("polymer")

    def build():
        md = openmm.LangevinMiddleIntegrator(molecule.temperature_k, molecule.friction_per_ps, molecule.timestep_ps)
        cg = openmm_cgml.create_integrator(bundle, molecule.topology, molecule.system)
        cg.setRandomNumberSeed(1)
        integrator = openmm.CompoundIntegrator()
        integrator.addIntegrator(md)
        integrator.addIntegrator(cg)
        integrator.setCurrentIntegrator(1)
        context = openmm.Context(molecule.system, integrator, openmm.Platform.getPlatformByName("Reference"))
        context.setPositions(molecule.positions)
        integrator.step(1)  # embed() and the bundle's compilation happen here
        return integrator, cg, context

    (integrator, cg, context), setup = timed(build)
    step_ps = cg.getStepSize().value_in_unit(unit.picosecond)
    steps = int(round(ns * 1000 / step_ps))

    def run():
        for _ in range(steps // report_every):
            integrator.step(report_every)
            context.getState(getPositions=True)

    _, stepping = timed(run)
    mapping = openmm_cgml.BeadMapping.of_integrator(cg, molecule.system)
    _, back = timed(lambda: handoff(context, mapping, temperature_k=molecule.temperature_k, seed=1))
    return {"setup_s": setup, "steps": steps, "step_ps": step_ps, "stepping_s": stepping, "handoff_s": back,
            "total_s": setup + stepping + back}


def classical_run(molecule, ns: float, report_interval_ps: float) -> dict:
    def build():  # minimised, velocities drawn, 100 steps (classical_baseline.classical_context)
        return classical_context(molecule, "Reference", {})

    (integrator, context), setup = timed(build)
    per_report = int(round(report_interval_ps / molecule.timestep_ps))
    reports = int(round(ns * 1000 / report_interval_ps))

    def run():
        for _ in range(reports):
            integrator.step(per_report)
            context.getState(getPositions=True)

    _, stepping = timed(run)
    return {"setup_s": setup, "steps": reports * per_report, "step_ps": molecule.timestep_ps, "stepping_s": stepping,
            "total_s": setup + stepping}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ns", type=float, default=40.0, help="simulated time of one run")
    parser.add_argument("--report-every", type=int, default=10, help="CG steps between position read-backs")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    molecule = polymers.build(POLYMER_SEQUENCE, 1)
    cg = cg_run(molecule, args.ns, args.report_every)
    classical = classical_run(molecule, args.ns, args.report_every * cg["step_ps"])
    saved = classical["total_s"] - cg["total_s"]
    model_cost = model_cost_s()
    cost = sum(model_cost.values())
    result = {"command": "python benchmarks/" + " ".join([Path(sys.argv[0]).name] + sys.argv[1:]), "ns_per_run": args.ns,
              "system": f"polymer {POLYMER_SEQUENCE} (60 atoms, 20 beads)", "platform": "Reference",
              "model": bundle_settings(shipped_model("polymer")), "cg": cg,
              "classical": classical, "whole_run_ratio": classical["total_s"] / cg["total_s"],
              "model_cost_s": model_cost, "runs_to_pay_off": cost / saved if saved > 0 else None}
    print(f"one run of {args.ns:g} ns: CG {cg['total_s']:.1f} s (set-up {cg['setup_s']:.2f}, steps {cg['stepping_s']:.1f}, "
          f"hand-off {cg['handoff_s']:.2f}) vs classical {classical['total_s']:.1f} s (set-up {classical['setup_s']:.2f}, "
          f"steps {classical['stepping_s']:.1f}): ratio {result['whole_run_ratio']:.2f}")
    if result["runs_to_pay_off"]:
        print(f"training data and training ({cost:.0f} s, the model card's) are paid off after "
              f"{result['runs_to_pay_off']:.0f} such runs")
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
