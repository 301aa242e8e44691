"""``cgml reference polymers|pdb``: classical OpenMM reference runs, a dataset folder split for training."""
from __future__ import annotations

from pathlib import Path

from ..reference import (BENCHMARK_POLYMERS, DATASET_FILE, STANDARD_POLYMERS, Job, RunSettings, benchmark_polymer_jobs,
                         generate, polymer_jobs)
from ..systems import peptides, polymers
from .options import add_platform


def add_parser(commands):
    parser = commands.add_parser("reference", help="classical OpenMM reference trajectories (mdtraj HDF5)")
    kinds = parser.add_subparsers(dest="kind", required=True)
    chains = kinds.add_parser("polymers", help="the sequence-defined polymer family, split by sequence")
    preset = chains.add_mutually_exclusive_group()
    preset.add_argument("--standard", action="store_true",
                        help=f"the standard training data: {STANDARD_POLYMERS} (other options but --splits are ignored)")
    preset.add_argument("--benchmark", action="store_true",
                        help=f"the fidelity benchmark's held-out chains with replicas: {BENCHMARK_POLYMERS} "
                             "(other options but --splits are ignored)")
    chains.add_argument("--sequences", type=int, default=6, help="number of sequences (train:val:test 4:1:1)")
    chains.add_argument("--length", type=int, default=20, help="monomers per chain")
    chains.add_argument("--splits", nargs="+", choices=["train", "validation", "test"],
                        help="run only the chains of these splits (same sequences and seeds as the whole dataset)")
    chains.add_argument("--extra-train-sequences", type=int, default=0,
                        help="more train sequences drawn after the dataset's (seeds continue), none of them a "
                             "sequence of the fidelity benchmark: a larger train split whose other sequences, "
                             "validation and test included, are those of the dataset made without it")
    pdb = kinds.add_parser("pdb", help="a peptide from a PDB file (pdbfixer, amber14 + GBn2); runs split by seed")
    pdb.add_argument("file")
    pdb.add_argument("--runs", type=int, default=3, help="independent runs, split by run")
    pdb.add_argument("--validation-runs", type=int, default=1, help="runs of the validation split")
    pdb.add_argument("--test-runs", type=int, default=1, help="runs of the test split (the rest train)")
    pdb.add_argument("--extra-train-runs", type=int, default=0,
                     help="more train runs after the test runs (seeds continue): a larger train split whose first "
                          "--runs runs, validation and test included, are those of the dataset made without it")
    pdb.add_argument("--environment", default="gbn2", choices=sorted(peptides.ENVIRONMENTS),
                     help="gbn2: amber14 + GBn2, 2 fs; gbn2-hmr: the same with hydrogen-mass repartitioning, 4 fs; "
                          "vacuum: amber14, 4 fs with hydrogen-mass repartitioning")
    pdb.add_argument("--temperature-k", type=float, default=300.0)
    for sub in (chains, pdb):
        sub.add_argument("--out", required=True, help="dataset folder")
        sub.add_argument("--production-ps", type=float, default=2000.0)
        sub.add_argument("--save-interval-ps", type=float, default=2.0)
        sub.add_argument("--equilibration-ps", type=float, default=100.0)
        sub.add_argument("--seed", type=int, default=1)
        add_platform(sub)
        sub.add_argument("--processes", type=int, default=2, help="runs in parallel")
    return parser


def run(args) -> int:
    if args.kind == "polymers":
        options = dict(sequences=args.sequences, length=args.length, seed=args.seed, production_ps=args.production_ps,
                       save_interval_ps=args.save_interval_ps, equilibration_ps=args.equilibration_ps,
                       platform=args.platform)
        if args.extra_train_sequences < 0 or (args.extra_train_sequences and args.benchmark):
            raise SystemExit("cgml reference polymers: --extra-train-sequences must be >= 0 and adds to a training "
                             f"set, not to --benchmark (got {args.extra_train_sequences})")
        if args.benchmark:
            options = BENCHMARK_POLYMERS
            jobs, splits = benchmark_polymer_jobs(options)
        else:
            options = STANDARD_POLYMERS if args.standard else options
            jobs, splits = polymer_jobs(options, args.extra_train_sequences)
        if args.splits:
            splits = {name: runs for name, runs in splits.items() if name in args.splits}
            kept = {run for runs in splits.values() for run in runs}
            jobs = [job for job in jobs if job.name in kept]
        seed = options["seed"]
    else:
        path = Path(args.file)
        if not path.is_file():
            raise SystemExit(f"cgml reference pdb: PDB file '{path}' does not exist")
        held = args.validation_runs + args.test_runs
        if args.validation_runs < 1 or args.test_runs < 0 or args.runs < held + 1:
            raise SystemExit(f"cgml reference pdb: --runs ({args.runs}) must exceed the validation and test runs "
                             f"({args.validation_runs} + {args.test_runs}), with at least one validation run")
        if args.extra_train_runs < 0:
            raise SystemExit(f"cgml reference pdb: --extra-train-runs must be >= 0, got {args.extra_train_runs}")
        options = vars(args)
        names = [f"{path.stem}-run{i}" for i in range(args.runs + args.extra_train_runs)]
        jobs = [Job(n, "pdb", str(path.resolve()), args.seed + i, environment=args.environment,
                    temperature_k=args.temperature_k) for i, n in enumerate(names)]
        train = args.runs - held
        splits = {"train": names[:train] + names[args.runs:], "validation": names[train:train + args.validation_runs],
                  "test": names[train + args.validation_runs:args.runs]}
        seed = args.seed
    settings = RunSettings(production_ps=options["production_ps"], save_interval_ps=options["save_interval_ps"],
                           equilibration_ps=options["equilibration_ps"], seed=seed, platform=options["platform"])
    summary = generate(jobs, splits, args.out, settings, args.processes,
                       "polymers" if args.kind == "polymers" else "pdb")
    print(f"{len(jobs)} runs in {summary['wall_seconds']:.0f} s -> {args.out}/{DATASET_FILE}")
    return 0
