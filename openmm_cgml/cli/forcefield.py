"""``cgml forcefield train|export``: the learned CG force field (force matching, run through
openmmtorch.TorchForce), the baseline the learned integrator is compared with."""
from __future__ import annotations

import json
from pathlib import Path


def add_parser(commands):
    parser = commands.add_parser("forcefield", help="learned CG force field (force matching, run by openmm-torch's TorchForce)")
    actions = parser.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train", help="force-match a CG force field on a dataset's train split (ranked on validation)")
    train.add_argument("data", help="dataset folder written by cgml reference")
    train.add_argument("--config", help="JSON file with 'model' (ForceFieldConfig) and 'train' (ForceMatchingConfig) sections")
    train.add_argument("--out", default="out/forcefield", help="folder for checkpoints and metrics (a run there with the "
                                                                "same settings resumes from last.pt)")
    train.add_argument("--epochs", type=int, help="override train.epochs")
    train.add_argument("--mapping", help="override train.mapping, the beads (e.g. the bundle's, to compare the two: "
                                         "'residue', 'united-atom', 'graclus:4')")
    train.add_argument("--no-progress", action="store_true")
    export = actions.add_parser("export", help="write the force-field file of a checkpoint, with its Langevin settings")
    export.add_argument("checkpoint", help="checkpoint written by cgml forcefield train (OUT/best.pt)")
    export.add_argument("--out", required=True, help="force-field file to write")
    export.add_argument("--friction", type=float, required=True, help="Langevin friction, 1/ps (chosen on validation data)")
    export.add_argument("--timestep-ps", type=float, required=True, help="Langevin time step, ps (chosen on validation data)")
    return parser


def run(args) -> int:
    if args.action == "train":
        from ..forcefield.model import ForceFieldConfig
        from ..forcefield.train import ForceMatchingConfig, train

        values = json.loads(Path(args.config).read_text()) if args.config else {}
        unknown = sorted(set(values) - {"model", "train", "description"})
        if unknown:
            raise SystemExit(f"{args.config}: unknown sections {unknown}")
        config = ForceFieldConfig.from_dict(values.get("model", {}))
        settings = ForceMatchingConfig.from_dict(values.get("train", {}))
        if args.epochs is not None:
            settings.epochs = args.epochs
        if args.mapping is not None:
            settings.mapping = args.mapping
        metrics = train(args.data, args.out, config, settings, progress=not args.no_progress, command=args.command_line)
        print(f"best validation loss {metrics['best_validation']:.4f} (mean squared force error over mean squared "
              f"mapped force); checkpoints in {args.out}")
        return 0
    from ..forcefield.export import export_forcefield

    path = export_forcefield(args.checkpoint, args.out, args.friction, args.timestep_ps)
    print(f"wrote {path}: friction {args.friction}/ps, time step {args.timestep_ps} ps")
    return 0
