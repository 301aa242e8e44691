"""The demo: the shipped polymer model against classical MD on a sequence it never saw.

A 20-monomer chain of the held-out test split is built; from one start, the same Context runs the
learned CG integrator (20 ps steps) and classical Langevin dynamics (0.02 ps steps), hands the CG
end state back to atoms (beads restrained where the model put them), and continues classically.
``compare`` writes the report (Markdown, JSON, PNG plots) to the output folder; beside this one
chain, the report gives the model's fidelity gates on the held-out chains of its card's benchmark run.
"""
from __future__ import annotations

import json
from pathlib import Path

from .benchmark.output import RESULTS_BLOCK, gate_rows
from .benchmark.gates import gates_of
from .bundle import load_bundle, shipped_model
from .compare import CompareSettings, compare
from .mapping import BeadMapping
from .systems import polymers

SEQUENCE = "SRRSRRRSRSRSRSRSHSRR"  # in the standard benchmark's held-out test split
ROOT = Path(__file__).resolve().parents[1]  # the checkout: benchmarks/results is not package data


def run(out_dir="out/demo", cg_steps: int = 2000, md_steps: int = 250_000, platform: str | None = None, seed: int = 1,
        progress: bool = True) -> dict:
    """Build the chain, compare, print the headline figures; returns the report (``compare``'s dict).
    ``platform`` defaults to CUDA when present, else CPU."""
    molecule = polymers.build(SEQUENCE, seed)
    mapping = BeadMapping.per_residue(molecule.topology, molecule.system)
    bundle = shipped_model("polymer")
    print(f"chain {SEQUENCE}: {mapping.n_atoms} particles in {mapping.n_beads} beads; model {bundle.name}")
    settings = CompareSettings.for_molecule(molecule, cg_steps=cg_steps, md_steps=md_steps,
                                            platform=platform, seed=seed, progress=progress)
    report = compare(molecule.system, molecule.topology, molecule.positions, bundle, settings, mapping, out_dir)
    cg, md = report["cg"], report["classical"]
    speed = report["speed"]
    print(f"mean Rg: CG {cg['rg_mean_nm']:.3f} nm, classical {md['rg_mean_nm']:.3f} nm; Rg² relaxation: "
          f"CG {_ps(cg['rg2_relaxation_ps'])}, classical {_ps(md['rg2_relaxation_ps'])}")
    js = report["js_divergence_bits"]["pair_distances_mean_over_pairs"]
    print(f"bead-distance JS divergence {js:.3f} bits (mean over pairs); CG frames with a collision: "
          f"{cg['frames_with_collision']:.1%} of {cg['frames']}")
    print(f"simulated ns per wall second: CG {speed['cg_ns_per_s']:.2f}, classical {speed['classical_ns_per_s']:.3f} "
          f"(ratio {speed['ratio']:.0f})")
    fidelity = card_benchmark(bundle)
    if fidelity is not None:
        report["fidelity_benchmark"] = fidelity
        (Path(out_dir) / "report.json").write_text(json.dumps(report, indent=1))
        with open(Path(out_dir) / "report.md", "a") as md_file:
            md_file.write(fidelity_markdown(fidelity))
        print(f"fidelity benchmark ({fidelity['split']} split, its card): {fidelity['met']} of {fidelity['gates']} "
              f"gates, the MD-vs-MD ceiling {fidelity['ceiling_met']}")
    print(f"report: {Path(out_dir) / 'report.md'}")
    return report


def card_benchmark(bundle: Path, root: Path = ROOT) -> dict | None:
    """The fidelity benchmark run the bundle's card tabulates first (its results JSON, under ``root``):
    the command, the split and every gate of the model and of the MD ceiling.  None when the card names
    none, when the results are not in this checkout (an installed wheel carries the cards, not the
    results) or when they measured other weights than the bundle's."""
    card = Path(bundle).with_suffix(".md")
    blocks = RESULTS_BLOCK.finditer(card.read_text()) if card.is_file() else ()
    found = next((block.group("path").split()[0] for block in blocks if block.group("kind") == "table"), None)
    path = root / found if found else None
    if path is None or not path.is_file():
        return None
    results = json.loads(path.read_text())
    if results.get("model", {}).get("weights_sha256") != load_bundle(bundle, current=False)[1]["weights_sha256"]:
        return None
    cg, ceiling = gates_of(results["summary"], "cg"), gates_of(results["summary"], "a")
    return {"results": found, "command": results["command"], "split": results["split"],
            "gates": len(cg), "met": sum(g["met"] for g in cg), "ceiling_met": sum(g["met"] for g in ceiling),
            "rows": gate_rows(results["summary"])}


def fidelity_markdown(fidelity: dict) -> str:
    return "\n".join(["", "## The model on the fidelity benchmark (its card)", "",
                      f"The figures above are one chain from one start. On the {fidelity['split']} split's held-out "
                      f"chains, against the MD-vs-MD ceiling of their classical replicas, the model meets "
                      f"**{fidelity['met']} of {fidelity['gates']}** fidelity gates, the ceiling {fidelity['ceiling_met']} "
                      f"(`{fidelity['command']}`; docs/benchmark.md):", ""] + fidelity["rows"]) + "\n"


def _ps(value) -> str:
    return "n/a (run too short)" if value is None else f"{value:.0f} ps"
