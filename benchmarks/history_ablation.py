"""History-length ablation: the polymer model trained with k = 1, 2, 4 and 8 frames of history, judged on the validation split.

For every k, a model is trained from the polymer config with only ``history_length`` changed
(``cgml train``), exported with the given sampler settings (``cgml export``), and run through the
fidelity benchmark on the validation split (``cgml benchmark polymer``, every figure beside its
MD-vs-MD ceiling).  A k whose ``WORK/kK/last.pt`` holds all epochs of a model of the same settings
is not trained again; one with fewer epochs resumes from there.  Writes ``RESULTS/kK/results.json`` (the benchmark's) and ``RESULTS/summary.json``
(per k: validation losses, training seconds and command, the bundle's settings, and where its
benchmark results lie), from which the README's table is generated.

    python benchmarks/history_ablation.py --score-calls 3
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from openmm_cgml.benchmark.sources import bundle_settings
from openmm_cgml.bundle import load_bundle
from openmm_cgml.checkpoint import load_checkpoint
from openmm_cgml.config import load_config
from openmm_cgml.files import write_atomically
from openmm_cgml.nn import ModelConfig

def cgml(*arguments: str) -> None:
    """Run one ``cgml`` command in a child process (training relaunches itself under torchrun)."""
    command = [sys.executable, "-m", "openmm_cgml.cli", *arguments]
    print("$ cgml " + " ".join(arguments), flush=True)
    subprocess.run(command, check=True)


def progress(folder: Path, config: dict) -> int:
    """Epochs already trained in ``folder`` (its last.pt) for a model of these settings; 0 if none."""
    last = folder / "last.pt"
    if not last.exists():
        return 0
    state = load_checkpoint(last)
    wanted = ModelConfig.from_dict({**config["model"], "timestep_ps": config["train"]["cg_step_ps"]})
    return int(state["epoch"]) if state["model_config"] == wanted else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--config", default="configs/polymer-coupled.json")
    parser.add_argument("--data", default="data/polymers-standard", help="training data (cgml reference polymers --standard)")
    parser.add_argument("--benchmark-data", default="data/polymers-benchmark",
                        help="held-out chains with replicas (cgml reference polymers --benchmark); only its validation split is read")
    parser.add_argument("--work", default="out/ablation", help="checkpoints and bundles")
    parser.add_argument("--results", default="benchmarks/results/validation/ablation")
    parser.add_argument("--score-calls", type=int, required=True, help="the sampler every k is exported with")
    parser.add_argument("--score-noise", choices=["on", "off"], default="off")
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--platform", default="CPU")
    args = parser.parse_args()
    work, results = Path(args.work), Path(args.results)
    base = json.loads(Path(args.config).read_text())
    load_config(args.config)  # fail early on a bad config
    summary = {"command": "python benchmarks/" + " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
               "config": args.config, "data": args.data, "split": "validation", "runs": []}
    for k in args.ks:
        config = json.loads(json.dumps(base))
        config["model"]["history_length"] = k
        config["description"] = f"{base.get('description', '')} History-length ablation: k = {k}."
        folder = work / f"k{k}"
        folder.mkdir(parents=True, exist_ok=True)
        config_path = folder / "config.json"
        config_path.write_text(json.dumps(config, indent=1) + "\n")
        tic = time.perf_counter()
        done = progress(folder, config)
        if done < config["train"]["epochs"]:  # an interrupted run resumes from its last.pt
            resume = ["--resume", str(folder / "last.pt")] if done else []
            cgml("train", args.data, "--config", str(config_path), "--out", str(folder), "--nproc", str(args.nproc),
                 "--no-progress", *resume)
        bundle = work / f"k{k}.pt"
        cgml("export", str(folder / "best.pt"), "--out", str(bundle), "--score-calls", str(args.score_calls),
             "--score-noise", args.score_noise)
        out = results / f"k{k}"
        cgml("benchmark", "polymer", "--model", str(bundle), "--data", args.benchmark_data, "--split", "validation",
             "--platform", args.platform, "--out", str(out))
        metadata = load_bundle(bundle)[1]
        summary["runs"].append({"history_length": k, "validation_losses": metadata["validation"],
                                "training": {key: metadata["training"].get(key) for key in ("epochs_run", "epoch_seconds", "command")},
                                "model": bundle_settings(bundle), "results": str(out / "results.json"),
                                "seconds_here": time.perf_counter() - tic})
        text = json.dumps(summary, indent=1) + "\n"
        write_atomically(results / "summary.json", lambda path, text=text: Path(path).write_text(text))
    print(f"wrote {results / 'summary.json'}")


if __name__ == "__main__":
    main()
