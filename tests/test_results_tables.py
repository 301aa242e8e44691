"""The results tables of the README, the research logs in docs/ and the model cards are the ones scripts/results_tables.py generates from the committed JSON."""
import json
import shutil
from pathlib import Path

import pytest

from script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("research-*.md")),
             *sorted((ROOT / "openmm_cgml" / "models").glob("*.md"))]


def _tables():
    return load_script("scripts/results_tables.py")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_tables_match_their_results_json(document, tmp_path):
    copy = tmp_path / document.name
    shutil.copy(document, copy)
    _tables().rewrite(copy)
    assert copy.read_text() == document.read_text(), f"{document.name}: run python scripts/results_tables.py {document.relative_to(ROOT)}"


def test_a_hand_edited_table_is_caught(tmp_path):
    text = (ROOT / "README.md").read_text()
    edited = tmp_path / "README.md"
    marker = "<!-- table: benchmarks/results/replicas.json -->\n"
    assert marker in text
    edited.write_text(text.replace(marker, marker + "| a figure typed by hand |\n"))
    _tables().rewrite(edited)
    assert edited.read_text() == text


@pytest.mark.parametrize("card", sorted((ROOT / "openmm_cgml" / "models").glob("*.md")), ids=lambda p: p.name)
def test_a_cards_results_tables_measured_the_bundle_it_describes(card):
    """A model card's tables are of its own bundle: every results JSON a card tabulates records the
    SHA-256 of the weights it ran, and it is the one the shipped bundle's metadata holds (a bundle
    replaced without re-running its benchmark fails here)."""
    from openmm_cgml.bundle import load_bundle

    weights = load_bundle(card.with_suffix(".pt"), current=False)[1]["weights_sha256"]
    for match in _tables().BLOCK.finditer(card.read_text()):
        if match.group("kind") != "table":
            continue
        model = json.loads((ROOT / match.group("path").split()[0]).read_text()).get("model", {})
        if "weights_sha256" in model:
            assert model["weights_sha256"] == weights, f"{card.name}: {match.group('path')} measured other weights"


def test_a_compare_column_names_its_cg_seed_when_it_is_not_the_default():
    """Two runs of one bundle with different CG seeds get different column labels (the benchmark's
    gate count moves with the seed, so a table must say which run is which)."""
    results = json.loads((ROOT / "benchmarks/results/validation/polymer-diffusion-large-rollout3b-rerun-c20/results.json").read_text())
    first = _tables()._label(results)
    second = _tables()._label(dict(results, settings=dict(results["settings"], seed=2)))
    assert "seed" not in first and second == first.replace(")", ", CG seed 2)")


def test_runs_on_different_copies_of_the_classical_data_get_a_ceiling_each(tmp_path):
    """Regenerated reference data differ (Reference-platform MD is not bit-for-bit the same on another
    processor): a compare table of runs on two copies shows each copy's ceiling and says which column
    reads against which, while runs on one copy keep a single ceiling column."""
    source = ROOT / "benchmarks/results/polymer-test-replay/results.json"
    results = json.loads(source.read_text())
    paths = []
    for name, fingerprint in (("a", "0123456789abcdef"), ("b", "0123456789abcdef"), ("c", "fedcba9876543210")):
        path = tmp_path / name / "results.json"
        path.parent.mkdir()
        path.write_text(json.dumps(dict(results, data_fingerprint=fingerprint)))
        paths.append(path)
    one = _tables().comparison(paths[:2])
    assert "copies of the classical data" not in one and "| MD ceiling |" in one
    two = _tables().comparison(paths)
    assert "measured on 2 copies of the classical data" in two
    header = two.splitlines()[4].split("|")
    assert header[2].strip().endswith("data 1") and header[4].strip().endswith("data 2")
    assert "| MD ceiling, data 1 | MD ceiling, data 2 |" in two
