"""The examples and the demo stay true."""
from pathlib import Path

import numpy as np
import pytest

from openmm_cgml import demo
from script_loader import load_script


def test_standin_compound_example(tmp_path):
    example = load_script("examples/standin_compound.py")
    assert example.main(out=str(tmp_path / "contraction.pt")) < 1e-6


def test_demo_runs_the_shipped_model_and_writes_the_report(tmp_path):
    report = demo.run(tmp_path, cg_steps=20, md_steps=2000, progress=False)
    assert report["system"]["beads"] == 20 and report["cg"]["frames"] == 21
    assert 0.5 < report["cg"]["rg_mean_nm"] < 3.0 and report["handoff"]["stable"]
    for name in ["report.md", "report.json"] + report["plots"]:
        assert (tmp_path / name).stat().st_size > 0
    # Beside the one chain, the gates of the card's benchmark run (this checkout has its results).
    fidelity = report["fidelity_benchmark"]
    assert fidelity["gates"] == 10 and 0 <= fidelity["met"] <= 10 and len(fidelity["rows"]) == 12
    assert f"**{fidelity['met']} of 10**" in (tmp_path / "report.md").read_text()


def test_the_demo_reads_only_a_benchmark_run_of_the_bundles_own_weights(tmp_path):
    import json
    import shutil

    from openmm_cgml.bundle import load_bundle, shipped_model

    bundle = Path(shutil.copy(shipped_model("polymer"), tmp_path / "polymer.pt"))
    card, results = tmp_path / "polymer.md", tmp_path / "run" / "results.json"
    assert demo.card_benchmark(bundle, tmp_path) is None  # no card
    card.write_text("# card\n<!-- table: run/results.json -->\n<!-- end table -->\n")
    assert demo.card_benchmark(bundle, tmp_path) is None  # no results in this checkout
    measured = json.loads((demo.ROOT / demo.card_benchmark(shipped_model("polymer"))["results"]).read_text())
    results.parent.mkdir()
    results.write_text(json.dumps(measured | {"model": {"weights_sha256": "0" * 64}}))
    assert demo.card_benchmark(bundle, tmp_path) is None  # other weights
    weights = load_bundle(bundle, current=False)[1]["weights_sha256"]
    results.write_text(json.dumps(measured | {"model": {"weights_sha256": weights}}))
    assert demo.card_benchmark(bundle, tmp_path)["gates"] == 10


def _example(name):
    return load_script(f"examples/{name}.py")


def test_add_to_script_example_runs_cg_then_classical():
    assert np.isfinite(_example("add_to_script").main(cg_steps=20, md_steps=20, report_every=10))


def test_compare_example_writes_a_report(tmp_path):
    report = _example("compare_with_md").main(str(tmp_path), cg_steps=10, md_steps=2000)
    assert (tmp_path / "report.md").is_file() and report["cg"]["frames"] == 11 and report["handoff"]["stable"]


@pytest.mark.slow
def test_train_new_pdb_example_ends_in_a_verdict(tmp_path):
    """The new-PDB path on a capped peptide no shipped model has seen (ACE-VAL-SER-LYS-NME): reference
    runs, training, export, and a verdict in the bundle, not a crash."""
    from openmm_cgml.bundle import check_bundle
    from openmm_cgml.systems.peptides import build_extended

    pdb = tmp_path / "vsk.pdb"
    pdb.write_text(build_extended("VSK"))
    bundle = _example("train_new_pdb").main([str(pdb), "--out", str(tmp_path / "out"), "--runs", "3",
                                            "--production-ps", "20", "--epochs", "1"])
    verdict = check_bundle(bundle)[1]["verdict"]
    assert verdict["line"].startswith("verdict: usable" if verdict["usable"] else "verdict: NOT usable: ")
    assert verdict["figures"]["steps"] > 0
