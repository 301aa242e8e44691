"""Integrator step time over bare ``step`` time on the same tensors, for 10, 100 and 1000 beads.

Both loops run without Python in between: ``CGMLIntegrator.step(n)`` loops in C++, and the bare
``step`` is looped inside a scripted wrapper.  The propagator is the BondedDiffusion stand-in on a
chain of beads of four atoms each.  Prints one ratio line per case and writes JSON.

    python benchmarks/integrator_overhead.py [--beads 10 100 1000] [--platforms Reference CPU]
"""
import argparse
import json
import platform as host
import tempfile
import time
from pathlib import Path

import openmm
import torch

import openmm_cgml
from openmm_cgml.export import load_bundle, save_bundle
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
    """Best time per call of each runner; the runners alternate so that machine noise hits all alike."""
    for run in runs:
        run(max(1, calls // 10))  # warm up
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for i, run in enumerate(runs):
            tic = time.perf_counter()
            run(calls)
            best[i] = min(best[i], (time.perf_counter() - tic) / calls)
    return best


def measure(bundle_path, n_beads, platform_name, calls):
    system, positions, beads, bonds = chain_system(n_beads)
    integrator = openmm_cgml.CGMLIntegrator(str(bundle_path), 1.0)
    integrator.setBeadAssignment(beads)
    integrator.setAtomBonds(bonds)
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName(platform_name))
    context.setPositions(positions)

    module, _ = load_bundle(bundle_path)
    bead_of_atom = torch.tensor(beads)
    embedding = module.embed(torch.zeros(len(beads), 1, dtype=torch.int64), torch.tensor(bonds).T,
                             bead_of_atom, torch.full((len(beads),), 12.0, dtype=torch.float64))
    history = torch.tensor([[p[0], p[1], p[2]] for p in positions], dtype=torch.float64)
    history = history.view(n_beads, ATOMS_PER_BEAD, 3).mean(1).expand(module.history_length, n_beads, 3).contiguous()
    bead_bonds = torch.stack([torch.arange(n_beads - 1), torch.arange(1, n_beads)])
    repeat = torch.jit.script(Repeat(module))
    with torch.no_grad():
        t_integrator, t_bare = per_call([integrator.step, lambda n: repeat(embedding, history, bead_bonds, n)], calls)
    return {"platform": platform_name, "beads": n_beads, "atoms": len(beads), "integrator_us": 1e6 * t_integrator,
            "bare_step_us": 1e6 * t_bare, "ratio": t_integrator / t_bare}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beads", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--platforms", nargs="+", default=["Reference", "CPU"])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        bundle = save_bundle(BondedDiffusion(timestep_ps=1.0), Path(scratch) / "bonded.pt")
        for platform_name in args.platforms:
            for n in args.beads:
                row = measure(bundle, n, platform_name, max(50, args.calls // max(1, n // 100)))
                rows.append(row)
                print(f"{platform_name:9s} {n:5d} beads: integrator {row['integrator_us']:8.1f} us/step, "
                      f"bare step {row['bare_step_us']:8.1f} us, ratio {row['ratio']:.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"command": "python benchmarks/integrator_overhead.py", "machine": host.machine(),
                                   "torch_threads": torch.get_num_threads(), "rows": rows}, indent=1))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
