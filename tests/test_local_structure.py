"""benchmarks/local_structure.py: the bond-angle and bond-length figures it reads from replicas, and its tails."""
import numpy as np
import pytest

from openmm_cgml.benchmark.sources import Replica
from script_loader import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("benchmarks/local_structure.py")


class Chain:
    bonds = [(0, 1), (1, 2)]


def test_angles_and_lengths_of_a_known_chain(script):
    """A right angle at the middle bead of a three-bead chain, bonds 0.3 and 0.4 nm long."""
    beads = np.array([[[0.3, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.4, 0.0]]])
    values = script.samples([Replica(beads, 20.0, "r")], Chain())
    assert values["bond_lengths_nm"] == pytest.approx([0.3, 0.4])
    assert values["bond_angles_deg"] == pytest.approx([90.0])


def test_tails_against_md_quantiles(script):
    """A sample drawn like MD's has 1 % beyond each of MD's 1 % quantiles; one shifted down has a heavy low tail."""
    rng = np.random.default_rng(0)
    md = rng.normal(80.0, 30.0, 400_000)
    same = script.summary(rng.normal(80.0, 30.0, 400_000), md)
    assert same["mass_below_md_1pc"] == pytest.approx(0.01, abs=0.001)
    assert same["mass_above_md_99pc"] == pytest.approx(0.01, abs=0.001)
    shifted = script.summary(rng.normal(75.0, 30.0, 400_000), md)
    assert shifted["mass_below_md_1pc"] > 0.013 and shifted["mass_above_md_99pc"] < 0.008
    assert shifted["quantiles"]["0.5"] == pytest.approx(75.0, abs=0.3)
