"""Forward time of the learned propagator's ``step`` for chains of 10, 100 and 1000 beads (CPU).

The model is built from a config (default configs/polymer.json) with random weights, scripted and
frozen as the C++ integrator freezes it, and run under no_grad on a random-walk chain (bead spacing
0.38 nm) with k identical history frames.  The random walk gets denser as it grows, so edges per
bead (capped by the config's max_neighbors) are printed with the times.  Prints one line per size, the cost per bead relative to
the smallest size, and writes JSON.

    python benchmarks/step_forward.py [--beads 10 100 1000] [--config configs/polymer.json] [--threads 1]
"""
import argparse
import json
import platform as host
import time
import warnings
from pathlib import Path

import torch

from openmm_cgml.nn import Propagator
from openmm_cgml.config import load_config

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "step_forward.json"


def chain(n_beads: int, k: int, seed: int = 0):
    """Atoms (two per bead), history (k, n, 3) of a random-walk chain, and the chain's bead bonds."""
    g = torch.Generator().manual_seed(seed)
    steps = torch.randn(n_beads, 3, dtype=torch.float64, generator=g)
    x = torch.cumsum(0.38 * steps / steps.norm(dim=1, keepdim=True), 0)
    n_atoms = 2 * n_beads
    atoms = (torch.tensor([[6, 2], [1, 1]] * n_beads), torch.stack([torch.arange(n_atoms - 1), torch.arange(1, n_atoms)]),
             torch.arange(n_atoms) // 2, torch.tensor([12.011, 1.008] * n_beads, dtype=torch.float64))
    bonds = torch.stack([torch.arange(n_beads - 1), torch.arange(1, n_beads)])
    return atoms, x.expand(k, n_beads, 3).contiguous(), bonds


def best_time(function, repeats: int, calls: int) -> float:
    function()  # warm up (TorchScript profiling runs)
    function()
    best = float("inf")
    for _ in range(repeats):
        tic = time.perf_counter()
        for _ in range(calls):
            function()
        best = min(best, (time.perf_counter() - tic) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beads", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--config", default=str(ROOT / "configs" / "polymer.json"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model_config, _ = load_config(args.config)
    torch.manual_seed(0)
    model = Propagator(model_config).eval()
    model.set_scales(0.05, 0.03)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        frozen = torch.jit.freeze(torch.jit.script(model), preserved_attrs=["embed", "step", "history_length", "timestep_ps"])
    rows = []
    for n in args.beads:
        atoms, history, bonds = chain(n, model_config.history_length)
        with torch.no_grad():
            embedding = frozen.embed(*atoms)
            calls = max(1, 2000 // n)
            seconds = best_time(lambda: frozen.step(embedding, history, bonds), args.repeats, calls)
            embed_seconds = best_time(lambda: frozen.embed(*atoms), 3, max(1, calls // 4))
            edges = model.graph(history[-1], bonds, None)[0].shape[1]
        rows.append({"beads": n, "atoms": 2 * n, "edges_per_bead": edges / n, "step_ms": 1e3 * seconds, "step_us_per_bead": 1e6 * seconds / n,
                     "embed_ms": 1e3 * embed_seconds})
        print(f"{n:6d} beads ({edges / n:4.1f} edges/bead): step {1e3 * seconds:8.2f} ms ({1e6 * seconds / n:7.1f} µs/bead), "
              f"embed {1e3 * embed_seconds:7.2f} ms (once per system)", flush=True)
    base = rows[0]
    for row in rows[1:]:
        row["per_bead_vs_smallest"] = row["step_us_per_bead"] / base["step_us_per_bead"]
        print(f"cost per bead, {row['beads']} vs {base['beads']} beads: {row['per_bead_vs_smallest']:.2f}")
    result = {"command": "python benchmarks/step_forward.py", "config": Path(args.config).name,
              "machine": host.machine(), "torch_threads": args.threads,
              "score_calls": len(model.score_sigmas), "history_length": model_config.history_length,
              "hidden": model_config.hidden, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
