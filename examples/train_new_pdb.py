"""Training and exporting a model for a new PDB: reference runs, training, export, one command each.

    python examples/train_new_pdb.py my.pdb --out out/my-peptide

runs `cgml reference pdb` (pdbfixer, amber14, independent runs split by run), `cgml train` with
configs/peptide.json, and `cgml export --data` with 20 refinement calls per step, which rolls the
model out from the start of the held-out runs and prints its verdict: usable, or not usable and why
(Rg, bond and pair-distance JS, close contacts, steps outside the training range).

The defaults give a capped tripeptide (ACE-VAL-SER-LYS-NME) a model the verdict calls usable in
7 minutes on 2 cores (2.5 min of classical runs, 10 epochs of 24 s, export and verdict), in vacuum
(amber14, 4 fs, hydrogen-mass repartitioning): 6 runs of 5 ns.  Compare it with classical MD in the
same environment: ``cgml compare --pdb my.pdb --environment vacuum --bundle out/my-peptide/model.pt``.
In implicit solvent (``--environment gbn2``, what the shipped peptide models were trained in) the same
30 ns of classical data take about 6.5 core-hours on this kind of machine (111 ns/day on one core
for that peptide, against 8 500 in vacuum); a usable GBn2 model of a new peptide needs at least
that (not tried here).  With less data or training the verdict says why the model is not usable
(with 3 refinement calls instead of 20 the same weights give 18 times the expected close contacts).
The verdict judges structure (sizes, distances, collisions), not kinetics.
"""
import argparse
import json
import sys
from pathlib import Path

from openmm_cgml.cli import main as cgml
from openmm_cgml.systems import peptides

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "peptide.json"


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pdb")
    parser.add_argument("--out", default="out/new-pdb")
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--production-ps", type=float, default=5000.0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--score-calls", type=int, default=20, help="refinement calls per CG step of the exported model")
    parser.add_argument("--environment", default="vacuum", choices=sorted(peptides.ENVIRONMENTS),
                        help="implicit solvent (amber14 + GBn2, 2 fs; gbn2-hmr: 4 fs) or vacuum (4 fs)")
    parser.add_argument("--save-interval-ps", type=float, default=1.0)
    args = parser.parse_args(argv)
    out = Path(args.out)
    # The faster platform for a small peptide, by measurement: CPU in GBn2, Reference in vacuum (15x).
    platform = "Reference" if args.environment == "vacuum" else "CPU"
    cgml(["reference", "pdb", args.pdb, "--out", str(out / "data"), "--runs", str(args.runs), "--production-ps",
          str(args.production_ps), "--save-interval-ps", str(args.save_interval_ps), "--equilibration-ps", "10",
          "--environment", args.environment, "--platform", platform])
    config = json.loads(CONFIG.read_text())
    config["train"]["epochs"] = args.epochs
    (out / "config.json").write_text(json.dumps(config, indent=1))
    cgml(["train", str(out / "data"), "--config", str(out / "config.json"), "--out", str(out / "train"), "--no-progress"])
    bundle = out / "model.pt"
    cgml(["export", str(out / "train" / "best.pt"), "--out", str(bundle), "--score-calls", str(args.score_calls),
          "--data", str(out / "data"), "--platform", platform])
    return bundle


if __name__ == "__main__":
    main(sys.argv[1:])
