"""Training and exporting a model for a new PDB: reference runs, training, export, one command each.

    python examples/train_new_pdb.py my.pdb --out out/my-peptide

runs `cgml reference pdb` (pdbfixer, amber14 + GBn2, independent runs split by run), `cgml train`
with configs/peptide.json, and `cgml export --data`, which rolls the model out from the start of the
held-out runs and prints its verdict: usable, or not usable and why (Rg, bond and pair-distance JS,
close contacts, steps outside the training range).  The defaults are small so that it finishes in
minutes on 2 cores, and the model they give is not expected to be usable: lengthen the runs and the
training (the shipped peptide model's card says what it took) until the verdict says usable.
"""
import argparse
import json
import sys
from pathlib import Path

from openmm_cgml.cli import main as cgml

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "peptide.json"


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pdb")
    parser.add_argument("--out", default="out/new-pdb")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--production-ps", type=float, default=200.0)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args(argv)
    out = Path(args.out)
    cgml(["reference", "pdb", args.pdb, "--out", str(out / "data"), "--runs", str(args.runs), "--production-ps",
          str(args.production_ps), "--save-interval-ps", "0.2", "--equilibration-ps", "10", "--platform", "CPU"])
    config = json.loads(CONFIG.read_text())
    config["train"]["epochs"] = args.epochs
    (out / "config.json").write_text(json.dumps(config, indent=1))
    cgml(["train", str(out / "data"), "--config", str(out / "config.json"), "--out", str(out / "train"), "--no-progress"])
    bundle = out / "model.pt"
    cgml(["export", str(out / "train" / "best.pt"), "--out", str(bundle), "--data", str(out / "data"), "--platform", "CPU"])
    return bundle


if __name__ == "__main__":
    main(sys.argv[1:])
