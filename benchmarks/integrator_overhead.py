"""Integrator step time over bare ``step`` time on the same tensors, for 10, 100 and 1000 beads.

Both loops run without Python in between: ``CGMLIntegrator.step(n)`` loops in C++, and the bare
``step`` of the bundle, frozen as the C++ integrator freezes it, is looped inside a scripted wrapper.
The propagator is the BondedDiffusion stand-in on a chain of beads of four atoms each, once without
and once with a training range that the integrator checks every step (the check's cost against the
cheapest step there is).  Prints one
ratio line per case and writes JSON.  ``bare_runner`` and ``per_call`` are reused by benchmarks/speed.py for
trained bundles on real systems.

    python benchmarks/integrator_overhead.py [--beads 10 100 1000] [--platforms Reference CPU]
"""
import argparse
import json
import platform as host
import sys
import tempfile
import time
import warnings
from pathlib import Path

import openmm
import torch

import openmm_cgml
from openmm_cgml.bundle import load_bundle, save_bundle
from openmm_cgml.standins import BondedDiffusion

ATOMS_PER_BEAD = 4
RESULTS = Path(__file__).resolve().parent / "results" / "integrator_overhead.json"


class Repeat(torch.nn.Module):
    """Calls the bundle's step() n times on the same tensors, inside TorchScript."""

    def __init__(self, bundle):
        super().__init__()
        self.bundle = bundle

    def forward(self, embedding: torch.Tensor, history: torch.Tensor, bonds: torch.Tensor, n: int) -> torch.Tensor:
        out = history[-1]
        for _ in range(n):
            out = self.bundle.step(embedding, history, bonds)
        return out


def chain_system(n_beads):
    system = openmm.System()
    n_atoms = n_beads * ATOMS_PER_BEAD
    for _ in range(n_atoms):
        system.addParticle(12.0)
    positions = [openmm.Vec3(0.1 * i, 0.02 * (i % 3), 0.0) for i in range(n_atoms)]
    beads = [i // ATOMS_PER_BEAD for i in range(n_atoms)]
    bonds = [(i, i + 1) for i in range(n_atoms - 1)]
    return system, positions, beads, bonds


def per_call(runs, calls, repeats=7):
    """Best time per call of each runner; the runners alternate so that machine noise hits all alike.
    ``calls`` is one count for all runners or one count per runner."""
    counts = list(calls) if isinstance(calls, (list, tuple)) else [calls] * len(runs)
    for run, count in zip(runs, counts):
        run(max(1, count // 10))  # warm up
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for i, (run, count) in enumerate(zip(runs, counts)):
            tic = time.perf_counter()
            run(count)
            best[i] = min(best[i], (time.perf_counter() - tic) / count)
    return best


def frozen_repeat(module):
    """``Repeat`` around a loaded bundle, frozen for inference as the C++ integrator freezes the bundle."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.freeze(torch.jit.script(Repeat(module)).eval())


def bare_runner(module, atom_inputs, bead_positions, bead_bonds, warmup=3):
    """``run(n)``: n bare ``step`` calls of the loaded bundle ``module`` (frozen) inside TorchScript, on
    the tensors the integrator builds: the embedding of ``atom_inputs`` (features, atom bonds, bead of
    atom, masses), k copies of ``bead_positions`` (n_beads, 3) nm and the bead bonds (pairs).

    It is warmed up with two calls of ``warmup`` steps: TorchScript's profiling executor specialises
    the loop on the shapes seen in its first call, and edge counts change from step to step, so a
    first call of one step leaves a plan whose shape guards fail later (slower by ~50 % for 5 beads)."""
    repeat = frozen_repeat(module)
    with torch.no_grad():
        embedding = module.embed(*atom_inputs)
    history = torch.as_tensor(bead_positions, dtype=torch.float64)
    history = history.expand(module.history_length, *history.shape).contiguous()
    bonds = torch.as_tensor(bead_bonds, dtype=torch.int64).reshape(-1, 2).T.contiguous()

    def run(n):
        with torch.no_grad():
            repeat(embedding, history, bonds, n)
    for _ in range(2):
        run(warmup)
    return run


def integrator_vs_bare(integrator, module, atom_inputs, bead_positions, bead_bonds, calls, repeats=7, warmup=3):
    """Seconds per ``integrator.step`` (its Context made and positioned by the caller) and per bare
    ``step`` on the same tensors (``bare_runner``)."""
    bare = bare_runner(module, atom_inputs, bead_positions, bead_bonds, warmup)
    return per_call([integrator.step, bare], calls, repeats)


def measure(bundle_path, n_beads, platform_name, calls):
    system, positions, beads, bonds = chain_system(n_beads)
    integrator = openmm_cgml.CGMLIntegrator(str(bundle_path), 1.0)
    integrator.setBeadAssignment(beads)
    integrator.setAtomBonds(bonds)
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName(platform_name))
    context.setPositions(positions)

    module, _ = load_bundle(bundle_path)
    atoms = (torch.zeros(len(beads), 1, dtype=torch.int64), torch.tensor(bonds).T, torch.tensor(beads),
             torch.full((len(beads),), 12.0, dtype=torch.float64))
    centres = torch.tensor([[p[0], p[1], p[2]] for p in positions], dtype=torch.float64).view(n_beads, ATOMS_PER_BEAD, 3).mean(1)
    bead_bonds = [(i, i + 1) for i in range(n_beads - 1)]
    t_integrator, t_bare = integrator_vs_bare(integrator, module, atoms, centres, bead_bonds, calls)
    return {"platform": platform_name, "beads": n_beads, "atoms": len(beads), "integrator_us": 1e6 * t_integrator,
            "bare_step_us": 1e6 * t_bare, "ratio": t_integrator / t_bare}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beads", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--platforms", nargs="+", default=["Reference", "CPU"])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        # The same stand-in twice: without a training range, and with one that every step is checked
        # against (CheckTrainingRange, default "warn"; generous, so that it never triggers).
        plain = save_bundle(BondedDiffusion(timestep_ps=1.0), Path(scratch) / "bonded.pt")
        checked = save_bundle(BondedDiffusion(timestep_ps=1.0), Path(scratch) / "checked.pt",
                              {"training_range": {"closest_pair_nm": 1e-6, "bond_length_nm": [0.0, 10.0]}})
        for platform_name in args.platforms:
            for n in args.beads:
                for label, bundle in (("", plain), (" (training range checked)", checked)):
                    row = measure(bundle, n, platform_name, max(50, args.calls // max(1, n // 100)))
                    row["training_range_checked"] = bool(label)
                    rows.append(row)
                    print(f"{platform_name:9s} {n:5d} beads{label}: integrator {row['integrator_us']:8.1f} us/step, "
                          f"bare step {row['bare_step_us']:8.1f} us, ratio {row['ratio']:.2f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/" + " ".join([Path(sys.argv[0]).name] + sys.argv[1:])
    out.write_text(json.dumps({"command": command, "machine": host.machine(), "torch_threads": torch.get_num_threads(),
                               "propagator": "BondedDiffusion stand-in (openmm_cgml.standins), no trained bundle",
                               "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
