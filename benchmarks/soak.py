"""Soak: a long CG run of the shipped polymer model that checkpoints as it goes and is continued from
its halfway checkpoint in a new process.  Reports resident memory over the run, whether any position
became NaN, and whether the continuation equals the uninterrupted run bit for bit.  Writes JSON.

    python benchmarks/soak.py                    # 10^6 CG steps (20 µs), a checkpoint every 10^4
    python benchmarks/soak.py --steps 20000 --every 2000

The first process runs all the steps, saving a checkpoint every ``--every`` steps and keeping the
one at the halfway step; a second process loads that checkpoint and runs the second half.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import openmm

from openmm_cgml import create_integrator, shipped_model
from openmm_cgml.bundle import load_bundle
from openmm_cgml.systems import polymers

RESULTS = Path(__file__).resolve().parent / "results" / "soak.json"
SEQUENCE = "SRRSRRRSRSRSRSRSHSRR"  # the demo's held-out chain


def rss_mb() -> float:
    """This process's resident memory now, MB (Linux /proc), or its peak where /proc is absent."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(args) -> dict:
    """One process's part: all steps from the start (saving checkpoints), or the second half from one."""
    chain = polymers.build(SEQUENCE, 1)
    integrator = create_integrator(str(shipped_model("polymer")), chain.topology, chain.system)
    integrator.setRandomNumberSeed(args.seed)
    context = openmm.Context(chain.system, integrator, openmm.Platform.getPlatformByName(args.platform))
    context.setPositions(chain.positions)
    half = args.steps // 2
    if args.resume:
        context.loadCheckpoint(Path(args.resume).read_bytes())
    samples, finite, start = [], True, time.perf_counter()
    done = context.getStepCount()
    while done < args.steps:
        integrator.step(min(args.every, args.steps - done))
        done = context.getStepCount()
        x = context.getState(getPositions=True).getPositions(asNumpy=True)._value
        finite &= bool(np.isfinite(x).all())
        checkpoint = context.createCheckpoint()
        if done == half and not args.resume:
            Path(args.checkpoint).write_bytes(checkpoint)
        samples.append({"step": done, "rss_mb": round(rss_mb(), 1), "wall_s": round(time.perf_counter() - start, 1)})
        print(f"step {done:>9d}  RSS {samples[-1]['rss_mb']:7.1f} MB  {samples[-1]['wall_s']:8.1f} s", flush=True)
    final = context.getState(getPositions=True).getPositions(asNumpy=True)._value
    return {"samples": samples, "finite": finite, "final_nm": final.tolist()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000, help="CG steps in all (even)")
    parser.add_argument("--every", type=int, default=10_000, help="steps between checkpoints; must divide steps / 2")
    parser.add_argument("--platform", default="Reference")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--part", choices=["whole", "second-half"], help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", help=argparse.SUPPRESS)
    parser.add_argument("--resume", help=argparse.SUPPRESS)
    parser.add_argument("--part-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps % 2 or (args.steps // 2) % args.every:
        parser.error("--every must divide --steps / 2")
    if args.part:  # a worker process
        Path(args.part_out).write_text(json.dumps(run(args)))
        return 0
    common = [sys.executable, __file__, "--steps", str(args.steps), "--every", str(args.every),
              "--platform", args.platform, "--seed", str(args.seed)]
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint, whole, second = (str(Path(scratch) / name) for name in ("half.chk", "whole.json", "second.json"))
        began = time.perf_counter()
        subprocess.run(common + ["--part", "whole", "--checkpoint", checkpoint, "--part-out", whole], check=True)
        subprocess.run(common + ["--part", "second-half", "--resume", checkpoint, "--part-out", second], check=True)
        wall = time.perf_counter() - began
        a, b = json.loads(Path(whole).read_text()), json.loads(Path(second).read_text())
    identical = a["final_nm"] == b["final_nm"]
    rss = [s["rss_mb"] for s in a["samples"]]
    warm = rss[len(rss) // 10:] or rss
    result = {
        "command": " ".join(["python", "benchmarks/soak.py", *(argv if argv is not None else sys.argv[1:])]),
        "model": "polymer", "weights_sha256": load_bundle(shipped_model("polymer"))[1].get("weights_sha256"),
        "sequence": SEQUENCE, "steps": args.steps, "checkpoint_every": args.every,
        "platform": args.platform, "seed": args.seed, "cpus": os.cpu_count(), "wall_s": round(wall, 1),
        "continuation_identical": identical, "no_nan": a["finite"] and b["finite"],
        "rss_mb_after_warmup": {"first": warm[0], "last": warm[-1], "max": max(warm)},
        "rss_mb": a["samples"], "rss_mb_second_process": b["samples"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"continuation from the halfway checkpoint in a new process identical: {identical}")
    print(f"no NaN: {result['no_nan']}")
    print(f"RSS after warm-up: {warm[0]:.1f} -> {warm[-1]:.1f} MB (max {max(warm):.1f})")
    return 0 if identical and result["no_nan"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
