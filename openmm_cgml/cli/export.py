"""``cgml export CHECKPOINT|BUNDLE --out BUNDLE``: the bundle of a training checkpoint, or a bundle
re-exported with other sampler settings; checked once."""
from __future__ import annotations

from ..bundle import is_bundle, load_bundle
from ..export import export_bundle, export_checkpoint


def add_parser(commands):
    parser = commands.add_parser("export", help="write the bundle (TorchScript + JSON metadata) of a training checkpoint")
    parser.add_argument("checkpoint", help="checkpoint written by `cgml train` (e.g. out/train/best.pt), or a bundle "
                                           "to re-export with other sampler settings (same weights)")
    parser.add_argument("--out", required=True, help="bundle file to write, e.g. out/polymer.pt")
    parser.add_argument("--no-check", action="store_true", help="skip loading and running the written bundle once")
    parser.add_argument("--score-calls", type=int, help="refinement calls per step (default: as trained)")
    parser.add_argument("--score-noise", choices=["on", "off"],
                        help="Langevin refinement: noise on every call but the last (default: as trained)")
    return parser


def run(args) -> int:
    noise = None if args.score_noise is None else args.score_noise == "on"
    if is_bundle(args.checkpoint):
        path = export_bundle(args.checkpoint, args.out, args.score_calls, noise)
    else:
        path = export_checkpoint(args.checkpoint, args.out, check=not args.no_check, score_calls=args.score_calls,
                                 score_noise=noise)
    _, metadata = load_bundle(path)
    print(f"wrote {path}: k={metadata['history_length']}, CG step {metadata['timestep_ps']} ps, "
          f"{metadata['score_calls']} score calls, validation {metadata['validation']}, "
          f"weights sha256 {metadata['weights_sha256'][:16]}")
    return 0
