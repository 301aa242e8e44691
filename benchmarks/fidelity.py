"""Fidelity of a trained bundle on held-out sequences: CG rollouts inside OpenMM against classical MD.

For every run of a dataset split (default: the held-out test sequences) the bundle's
CGMLIntegrator rolls the chain out from the first reference frame, and the rollout is compared with
the stored classical trajectory of the same sequence:

- r² across sequences of the mean bead Rg and of the Rg² relaxation time (lag where the ACF of Rg²
  falls to 1/e), as Pearson r² (what Fu et al. report) and as the coefficient of determination R²;
- collisions: non-bonded bead pairs closer than the closest such pair in the reference run;
- speed: simulated ps per wall second of the CG integrator and of classical Langevin on the same
  system and platform, measured here, and their ratio.

Optional ablation: collisions against the number of score calls per step (bundles re-exported
from the training checkpoint).  Results go to benchmarks/results/ as JSON, with the command line.

    python benchmarks/fidelity.py --bundle openmm_cgml/models/polymer.pt --data data/polymers-standard \\
        --checkpoint out/train/polymer/best.pt --steps 10000 --ablation 0 1 5 10 200
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from openmm_cgml.cli.options import add_platform

RESULTS = Path(__file__).parent / "results"


def rollout(bundle: str, h5: str, mapping_method: str, steps: int, platform: str, seed: int,
            classical_steps: int = 0) -> dict:
    """CG rollout of one reference run's system from its first frame; bead centres every CG step."""
    import openmm
    import openmm.unit as unit
    import torch

    from openmm_cgml import analysis, create_integrator
    from openmm_cgml.data import read_run
    from openmm_cgml.mapping import BeadMapping

    torch.set_num_threads(1)
    metadata, system, trajectory = read_run(h5)
    topology = trajectory.topology.to_openmm()
    mapping = BeadMapping.create(mapping_method, topology, system)
    integrator = create_integrator(bundle, topology, system, mapping=mapping)
    integrator.setRandomNumberSeed(seed)
    properties = {"Threads": "1"} if platform == "CPU" else {}
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName(platform), properties)
    context.setPositions(trajectory.xyz[0].astype(np.float64))
    frames, wall = [], 0.0
    for _ in range(steps):
        started = time.perf_counter()
        integrator.step(1)
        wall += time.perf_counter() - started
        frames.append(context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer))
    beads = mapping.centres(np.asarray(frames))
    reference = mapping.centres(trajectory.xyz.astype(np.float64))
    bonds = mapping.bead_bonds([(a.index, b.index) for a, b in topology.bonds()])
    masses = mapping.bead_masses()
    dt_cg, dt_md = integrator.getStepSize().value_in_unit(unit.picosecond), float(metadata["frame_interval_ps"])
    rg_cg, rg_md = analysis.radius_of_gyration(beads, masses), analysis.radius_of_gyration(reference, masses)
    threshold = analysis.collision_threshold(reference, bonds)
    collisions = analysis.collisions(beads, threshold, bonds)
    result = {"name": metadata["name"], "cg_steps": steps, "cg_step_ps": dt_cg, "n_beads": mapping.n_beads,
              "rg_cg_nm": float(rg_cg.mean()), "rg_md_nm": float(rg_md.mean()),
              "tau_cg_ps": analysis.relaxation_time(rg_cg ** 2, dt_cg), "tau_md_ps": analysis.relaxation_time(rg_md ** 2, dt_md),
              "collision_threshold_nm": threshold, "collisions": int(collisions.sum()),
              "frames_with_collisions": int((collisions > 0).sum()),
              "finite": bool(np.isfinite(beads).all()), "cg_ps_per_s": steps * dt_cg / wall}
    if classical_steps:
        md = openmm.LangevinMiddleIntegrator(metadata["temperature_k"] * unit.kelvin,
                                             metadata["friction_per_ps"] / unit.picosecond,
                                             metadata["timestep_ps"] * unit.picosecond)
        context = openmm.Context(system, md, openmm.Platform.getPlatformByName(platform), properties)
        context.setPositions(trajectory.xyz[0].astype(np.float64))
        context.setVelocitiesToTemperature(metadata["temperature_k"] * unit.kelvin, seed)
        md.step(100)
        started = time.perf_counter()
        md.step(classical_steps)
        result["classical_ps_per_s"] = classical_steps * metadata["timestep_ps"] / (time.perf_counter() - started)
        result["speed_ratio"] = result["cg_ps_per_s"] / result["classical_ps_per_s"]
    return result


def r_squared(x, y) -> dict:
    """Pearson r² and coefficient of determination R² of predictions x against truth y."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3:
        return {"pearson_r2": float("nan"), "R2": float("nan"), "n": int(len(x))}
    pearson = float(np.corrcoef(x, y)[0, 1] ** 2)
    determination = float(1 - ((y - x) ** 2).sum() / ((y - y.mean()) ** 2).sum())
    return {"pearson_r2": pearson, "R2": determination, "n": int(len(x))}


def run_all(pool, bundle, paths, mapping, steps, platform, seed, classical_steps=0) -> list[dict]:
    futures = [pool.submit(rollout, str(bundle), str(p), mapping, steps, platform, seed + i, classical_steps)
               for i, p in enumerate(paths)]
    return [f.result() for f in futures]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--data", required=True, help="dataset folder written by cgml reference")
    parser.add_argument("--split", default="test")
    parser.add_argument("--steps", type=int, default=10000, help="CG steps per rollout")
    parser.add_argument("--classical-steps", type=int, default=20000, help="classical steps timed for the speed ratio")
    parser.add_argument("--checkpoint", help="training checkpoint, needed for the score-call ablation")
    parser.add_argument("--ablation", type=int, nargs="*", default=[], help="score calls to compare, e.g. 0 1 5 10 200")
    parser.add_argument("--ablation-steps", type=int, default=500)
    parser.add_argument("--ablation-runs", type=int, default=4, help="runs of the split used in the ablation")
    add_platform(parser)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "fidelity.json"))
    args = parser.parse_args(argv)

    from openmm_cgml.data import run_paths
    from openmm_cgml.bundle import load_bundle
    from openmm_cgml.export import export_checkpoint

    _, metadata = load_bundle(args.bundle)
    mapping = metadata.get("mapping", "residue")
    paths = run_paths(args.data, args.split)
    report = {"command": "python benchmarks/" + " ".join([Path(__file__).name] + (argv or sys.argv[1:])),
              "bundle": str(args.bundle), "weights_sha256": metadata.get("weights_sha256"), "split": args.split,
              "mapping": mapping, "score_calls": metadata.get("score_calls")}
    started = time.perf_counter()
    with ProcessPoolExecutor(args.processes) as pool:
        runs = run_all(pool, args.bundle, paths, mapping, args.steps, args.platform, args.seed, args.classical_steps)
        report["runs"] = runs
        report["rg"] = r_squared([r["rg_cg_nm"] for r in runs], [r["rg_md_nm"] for r in runs])
        report["relaxation_time"] = r_squared([r["tau_cg_ps"] for r in runs], [r["tau_md_ps"] for r in runs])
        report["collisions"] = sum(r["collisions"] for r in runs)
        report["speed_ratio_median"] = float(np.median([r["speed_ratio"] for r in runs]))
        if args.ablation:
            if not args.checkpoint:
                parser.error("--ablation needs --checkpoint")
            report["ablation_score_calls"] = {}
            with tempfile.TemporaryDirectory() as folder:
                for calls in args.ablation:
                    variant = export_checkpoint(args.checkpoint, Path(folder) / f"calls{calls}.pt", score_calls=calls)
                    part = run_all(pool, variant, paths[: args.ablation_runs], mapping, args.ablation_steps,
                                   args.platform, args.seed)
                    report["ablation_score_calls"][str(calls)] = {
                        "collisions": sum(r["collisions"] for r in part),
                        "frames_with_collisions": sum(r["frames_with_collisions"] for r in part),
                        "frames": sum(r["cg_steps"] for r in part), "rg_cg_nm": [r["rg_cg_nm"] for r in part],
                        "cg_ps_per_s": float(np.median([r["cg_ps_per_s"] for r in part]))}
                    print(f"score calls {calls:4d}: {report['ablation_score_calls'][str(calls)]['collisions']} collisions "
                          f"in {args.ablation_runs} x {args.ablation_steps} steps", flush=True)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    for r in runs:
        print(f"{r['name']}: Rg CG {r['rg_cg_nm']:.3f} MD {r['rg_md_nm']:.3f} nm; tau CG {r['tau_cg_ps']:.0f} "
              f"MD {r['tau_md_ps']:.0f} ps; {r['collisions']} collisions; speed ratio {r['speed_ratio']:.0f}")
    print(f"Rg r² {report['rg']['pearson_r2']:.3f} (R² {report['rg']['R2']:.3f}); relaxation-time r² "
          f"{report['relaxation_time']['pearson_r2']:.3f} (R² {report['relaxation_time']['R2']:.3f}); "
          f"collisions {report['collisions']}; CG/classical simulated time per wall second: "
          f"{report['speed_ratio_median']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
