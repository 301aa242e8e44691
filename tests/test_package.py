"""The package's shape: imports in one direction, one home for the contract, small modules that say
what they are, training without the compiled plugin, and the C++ header generated from the contract."""
import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from openmm_cgml import contract
from openmm_cgml.data import WindowBatch

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "openmm_cgml"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "cgmlplugin.py")  # SWIG's output is generated


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Package modules ``path`` imports, at the top or inside functions (as ``import_cycles`` counts them)."""
    names, current = {module_name(p) for p in MODULES}, module_name(path)
    base = current.split(".") if path.name == "__init__.py" else current.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            stem = ".".join(base[: len(base) - node.level + 1] + [node.module or ""]).strip(".") if node.level else node.module
            targets = [stem] + [f"{stem}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t in names and t != current and not current.startswith(t + ".")}
    return found


def test_the_package_has_no_import_cycle():
    graph = {module_name(p): imported(p) for p in MODULES}
    state = {}

    def visit(node, trail):
        if state.get(node) == "done":
            return
        if state.get(node) == "open":
            pytest.fail("import cycle: " + " -> ".join(trail[trail.index(node):] + [node]))
        state[node] = "open"
        for target in sorted(graph[node]):
            visit(target, trail + [node])
        state[node] = "done"

    for name in graph:
        visit(name, [])


def test_training_export_and_the_command_line_parser_do_not_load_the_compiled_plugin():
    code = ("import sys\n"
            "import argparse, importlib\n"
            "import openmm_cgml.train, openmm_cgml.export, openmm_cgml.data, openmm_cgml.checkpoint\n"
            "from openmm_cgml import cli\n"
            "commands = argparse.ArgumentParser().add_subparsers()\n"
            "for name in cli.COMMANDS:  # the whole cgml parser\n"
            "    importlib.import_module(f'openmm_cgml.cli.{name}').add_parser(commands)\n"
            "loaded = [m for m in sys.modules if 'cgmlplugin' in m or m == 'openmm_cgml.plugin']\n"
            "assert not loaded, loaded\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_says_what_it_is_and_stays_small(path):
    tree = ast.parse(path.read_text())
    docstring = ast.get_docstring(tree)
    assert docstring and len(docstring.splitlines()[0]) > 20, f"{path.name}: no docstring saying what it is"
    assert len(path.read_text().splitlines()) <= 400, f"{path.name} is over 400 lines"


def test_the_plugin_header_is_generated_from_the_contract():
    header = ROOT / contract.HEADER
    assert header.read_text() == contract.cpp_header(), (
        f"{contract.HEADER} is stale: run python -m openmm_cgml.contract --header {contract.HEADER}")


def test_the_plugin_reads_the_contract_from_the_header():
    """The C++ sources name the contract's methods, attributes and metadata file only through the header."""
    sources = [p for p in (ROOT / "plugin" / "openmmapi").rglob("*.cpp")]
    text = "\n".join(p.read_text() for p in sources)
    for literal in [f'"{contract.METADATA_FILE}"', *(f'"{m.name}"' for m in contract.METHODS),
                    *(f'"{a}"' for a in contract.ATTRIBUTES)]:
        assert literal not in text, f"{literal} is spelled out in the C++ sources instead of read from CGMLContract.h"


def test_the_contract_document_and_the_batches_follow_the_contract():
    prose = (ROOT / "docs" / "contract.md").read_text()
    for method in contract.METHODS:
        assert f"`{method.name}(" in prose
        for argument in method.inputs:
            assert f"{argument.name}: {argument.dtype}" in prose, argument.name
    for name in [*contract.ATTRIBUTES, contract.METADATA_FILE, *contract.METADATA_KEYS]:
        assert f"`{name}`" in prose, name
    inputs = {argument.name for method in contract.METHODS for argument in method.inputs
              if argument.dtype != "Generator"} - {"bead_embedding"}
    assert inputs <= {field.name for field in dataclasses.fields(WindowBatch)}  # batches carry every input
