"""benchmarks/targets.py: one line per speed target, read from committed benchmark JSON."""
import json
from pathlib import Path

from script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def targets():
    return load_script("benchmarks/targets.py")


def run(name: str) -> dict:
    return json.loads((RESULTS / name / "results.json").read_text())


def passing_replay() -> dict:
    """The peptide replay of MD half A, with the one gate its ceiling misses (the first-passage time,
    too noisy with two replicas a half) set to MD's own value: it then meets every gate."""
    results = run("peptide-test-replay-100ps")
    results["summary"]["ratios"]["mfpt_beta_to_alphaL_ns"]["cg"]["value"] = 1.0
    return results


def test_passing_means_every_gate_met_even_those_the_ceiling_misses():
    t = targets()
    assert t.passes(passing_replay())
    assert not t.passes(run("peptide-test-replay-100ps"))  # MD itself misses the first-passage gate here
    assert not t.passes(run("polymer-test-replay-slow")) and not t.passes(run("peptide-test-replay-100ps-slow"))
    assert not t.passes(run("polymer-test")) and not t.passes(run("peptide-test-vacuum-100ps"))


def test_effective_speed_counts_only_passing_models(tmp_path):
    """The committed effective-speed JSON holds no passing model: missed with the reason.  The same
    figures credited to a run that meets every gate count, at the model's slowest observable."""
    t = targets()
    line = t.effective_line(RESULTS / "validation" / "effective-polymer.json", "polymer", 100)
    assert line["value"] is None and not line["met"] and "passes" in line["note"]
    effective = json.loads((RESULTS / "validation" / "effective-peptide.json").read_text())
    effective["models"] = effective["models"][:1]
    (tmp_path / "results.json").write_text(json.dumps(passing_replay()))
    effective["models"][0]["results"] = str(tmp_path / "results.json")
    (tmp_path / "effective.json").write_text(json.dumps(effective))
    line = t.effective_line(tmp_path / "effective.json", "peptide", 1e3)
    slowest = min(f["value"] for f in effective["models"][0]["figures"].values())
    assert line["value"] == slowest and line["met"] == (slowest >= 1e3) and line["interval"]


def test_speed_lines_read_the_benchmarks_json_and_say_met_or_missed(tmp_path):
    t = targets()
    assert t.main(["--out", str(tmp_path / "targets.json")]) == 0
    lines = {line["figure"]: line for line in json.loads((tmp_path / "targets.json").read_text())["lines"]}
    speed = json.loads((RESULTS / "speed.json").read_text())
    step = lines["20-bead polymer step, one copy, one thread (ms)"]
    assert step["value"] == speed["threads_property"]["idle"]["threads_1_ms"] and step["met"] == (step["value"] <= 2)
    assert len(lines) == 6 and all(isinstance(line["met"], bool) for line in lines.values())


def test_the_printed_line_and_the_readme_row_show_the_same_value(capsys):
    """benchmarks/targets.py's terminal line and the README's row format a value one way."""
    line = {"figure": "x", "value": 1234.5, "interval": [987.6, 1500.2], "note": "slowest", "target": "≥ 10³",
            "met": True, "source": "x.json"}
    shown = "1234 [988, 1500] (slowest)"
    assert targets().text(line) == f"x: {shown} | target ≥ 10³ | met"
    table = load_script("scripts/results_tables.py").targets_table({"command": "c", "split": "validation", "lines": [line]})
    assert f"| x | {shown} | ≥ 10³ | met | `x.json` |" in table
