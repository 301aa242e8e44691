"""Rewrites the results tables of README.md (and model cards) from the benchmarks' results JSON.

A table is the block between ``<!-- table: PATH -->`` and ``<!-- end table -->``, where PATH is a
results.json written by ``cgml benchmark`` (relative to the repository root); its rows are the same
lines the benchmark printed (``openmm_cgml.benchmark.output``), so no figure is typed by hand.
``<!-- compare: PATH PATH ... -->`` ... ``<!-- end table -->`` puts several runs side by side: the
figures whose names contain one of ``KEY_FIGURES``, a column per run, and the first run's ceiling.

    python scripts/results_tables.py README.md openmm_cgml/models/polymer.md
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from openmm_cgml.benchmark import output

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- (?P<kind>table|compare): (?P<path>[^>]+?) -->\n)(?P<body>.*?)(<!-- end table -->)", re.S)
KEY_FIGURES = ("mean Rg, R²", "by integral, Pearson", "τ_CG/τ_MD by integral", "JS of rg", "JS of bond lengths",
               "JS of bond angles", "below MD's 0.1%", "MSD at 100 ps", "MSD at 1000 ps")


def table(path: Path) -> str:
    results = json.loads(path.read_text())
    lines = (output.polymer_lines if results["benchmark"] == "polymer" else output.peptide_lines)(results["summary"])
    model = results["model"]
    name = Path(model["path"]).name if "path" in model else f"stand-in `{model['stand_in']}`"
    head = [f"`{results['command']}` ({results['split']} split; model {name}"
            + (f", weights {model['weights_sha256'][:12]}" if model.get("weights_sha256") else "") + ")", "",
            "| figure | CG | MD ceiling |", "|---|---|---|"]
    body = [f"| {figure} | {cg} | {ceiling} |" for figure, cg, ceiling in lines]
    if "judgeable_steps" in results:
        body += [""] + output.judgeable_table(results["judgeable_steps"])
    return "\n".join(head + body) + "\n"


def _lines(results: dict):
    return (output.polymer_lines if results["benchmark"] == "polymer" else output.peptide_lines)(results["summary"])


def _label(results: dict) -> str:
    model = results["model"]
    if "path" not in model:
        return f"stand-in `{model['stand_in']}`"
    noise = "Langevin" if model.get("score_noise") else "deterministic"
    return f"`{Path(model['path']).name}` ({model['score_calls']} calls, {noise})"


def comparison(paths: list[Path]) -> str:
    runs = [json.loads(path.read_text()) for path in paths]
    rows = [dict((name.split(" / MD's")[0], (cg, ceiling)) for name, cg, ceiling in _lines(r)) for r in runs]
    names = [name for name in rows[0] if runs[0]["benchmark"] != "polymer" or any(key in name for key in KEY_FIGURES)]
    head = [f"{runs[0]['split']} split; " + "; ".join(f"`{r['command']}`" for r in runs), "",
            "| figure | " + " | ".join(_label(r) for r in runs) + " | MD ceiling |",
            "|---|" + "---|" * (len(runs) + 1)]
    body = [f"| {name} | " + " | ".join(row[name][0] for row in rows) + f" | {rows[0][name][1]} |" for name in names]
    return "\n".join(head + body) + "\n"


def rewrite(document: Path) -> int:
    text = document.read_text()
    count = 0

    def replace(match):
        nonlocal count
        count += 1
        paths = [ROOT / path for path in match.group("path").split()]
        body = table(paths[0]) if match.group("kind") == "table" else comparison(paths)
        return match.group(1) + body + match.group(5)

    document.write_text(BLOCK.sub(replace, text))
    return count


if __name__ == "__main__":
    for name in sys.argv[1:] or ["README.md"]:
        print(f"{name}: {rewrite(Path(name))} tables rewritten")
