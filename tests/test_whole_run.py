"""benchmarks/whole_run.py takes the model's cost from its card, the one place it is stated."""
import json
import re

import pytest

from script_loader import ROOT, load_script


@pytest.fixture(scope="module")
def whole_run():
    return load_script("benchmarks/whole_run.py")


def test_the_cost_is_read_from_the_card_and_matches_the_recorded_run(whole_run):
    recorded = json.loads((ROOT / "benchmarks" / "results" / "whole_run.json").read_text())["model_cost_s"]
    assert whole_run.model_cost_s() == recorded and all(seconds > 0 for seconds in recorded.values())


def test_a_card_that_no_longer_states_a_cost_is_named(whole_run, tmp_path):
    card = tmp_path / "polymer.md"
    text = whole_run.CARD.read_text()
    assert re.search(whole_run.COST_PHRASES["training"], text)
    card.write_text(re.sub(r"\d+ s for the (\w+) commands", r"for the \1 commands", text))
    with pytest.raises(SystemExit, match=f"{card}.*training cost"):
        whole_run.model_cost_s(card)
