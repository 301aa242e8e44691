"""The examples and the demo stay true."""
import importlib.util
from pathlib import Path

import numpy as np

from openmm_cgml import demo

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_standin_compound_example(tmp_path):
    spec = importlib.util.spec_from_file_location("standin_compound", EXAMPLES / "standin_compound.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main(out=str(tmp_path / "contraction.pt")) < 1e-6


def test_demo_runs(tmp_path):
    result = demo.run(tmp_path, cg_steps=20, md_steps=20)
    assert np.isfinite(result["energy_kj_mol"]) and 0.05 < result["rg_mean_nm"] < 1.0
    assert (tmp_path / "final.pdb").stat().st_size > 0
