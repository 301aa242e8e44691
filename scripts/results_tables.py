"""Rewrites the results tables of README.md (and model cards) from the benchmarks' results JSON.

A table is the block between ``<!-- table: PATH -->`` and ``<!-- end table -->``, where PATH is a
results.json written by ``cgml benchmark`` (relative to the repository root); its rows are the same
lines the benchmark printed (``openmm_cgml.benchmark.output``), so no figure is typed by hand.

    python scripts/results_tables.py README.md openmm_cgml/models/polymer.md
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from openmm_cgml.benchmark import output

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- table: (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- end table -->)", re.S)


def table(path: Path) -> str:
    results = json.loads(path.read_text())
    lines = (output.polymer_lines if results["benchmark"] == "polymer" else output.peptide_lines)(results["summary"])
    model = results["model"]
    name = Path(model["path"]).name if "path" in model else f"stand-in `{model['stand_in']}`"
    head = [f"`{results['command']}` ({results['split']} split; model {name}"
            + (f", weights {model['weights_sha256'][:12]}" if model.get("weights_sha256") else "") + ")", "",
            "| figure | CG | MD ceiling |", "|---|---|---|"]
    return "\n".join(head + [f"| {figure} | {cg} | {ceiling} |" for figure, cg, ceiling in lines]) + "\n"


def rewrite(document: Path) -> int:
    text = document.read_text()
    count = 0

    def replace(match):
        nonlocal count
        count += 1
        return match.group(1) + table(ROOT / match.group("path")) + match.group(4)

    document.write_text(BLOCK.sub(replace, text))
    return count


if __name__ == "__main__":
    for name in sys.argv[1:] or ["README.md"]:
        print(f"{name}: {rewrite(Path(name))} tables rewritten")
