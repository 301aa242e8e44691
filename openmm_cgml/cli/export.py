"""``cgml export CHECKPOINT|BUNDLE --out BUNDLE``: the bundle of a training checkpoint, or a bundle
re-exported with other sampler settings; checked once."""
from __future__ import annotations

import argparse

from ..bundle import is_bundle, load_bundle, sampler_summary
from ..export import export_bundle, export_checkpoint, record_training_range, record_verdict
from .options import add_platform


def add_parser(commands):
    parser = commands.add_parser("export", help="write the bundle (TorchScript + JSON metadata) of a training checkpoint")
    parser.add_argument("checkpoint", help="checkpoint written by `cgml train` (e.g. out/train/best.pt), or a bundle "
                                           "to re-export with other sampler settings (same weights)")
    parser.add_argument("--out", required=True, help="bundle file to write, e.g. out/polymer.pt")
    parser.add_argument("--no-check", action="store_true", help="skip loading and running the written bundle once")
    parser.add_argument("--score-calls", type=int, help="refinement calls per step (default: as trained)")
    parser.add_argument("--sampler", choices=["refine", "diffusion"],
                        help="refine: score calls denoise the Gaussian sample; diffusion: they generate the step from "
                             "noise at the ladder's top (default: as trained)")
    parser.add_argument("--score-sigma-max", type=float, help="top of the score calls' noise ladder, in displacement "
                                                             "units; inside the trained range (default: as trained)")
    parser.add_argument("--score-sigma-min", type=float, help="bottom of the ladder, likewise (default: as trained)")
    parser.add_argument("--score-correctors", type=_levels, metavar="I,J,...",
                        help="levels of the noise ladder (0 = the top) that get a Langevin corrector call before the "
                             "ladder's step, diffusion sampler only; 'none' for none (default: as trained)")
    parser.add_argument("--score-noise", choices=["on", "off"],
                        help="Langevin refinement: noise on every call but the last (default: as trained)")
    parser.add_argument("--score-step", type=float, help="step α of every refinement call, in (0, 1] (default: as trained)")
    parser.add_argument("--noise-scale", type=float,
                        help="factor on the dynamics network's spread when sampling, in (0, 2] (default: as exported, 1 when trained)")
    parser.add_argument("--data", help="the dataset (cgml reference) the model was trained on: its held-out runs judge the "
                                       "bundle (a short rollout against them; the verdict, usable or not and why, goes "
                                       "into the metadata), and a bundle without a training range gets it measured on "
                                       "the train split")
    parser.add_argument("--verdict-split", default="validation", help="the dataset's split to judge on (default validation)")
    parser.add_argument("--verdict-steps", type=int, default=200, help="CG steps per held-out run (default 200)")
    add_platform(parser)  # of the verdict's rollouts
    return parser


def _levels(text: str) -> list[int]:
    """``--score-correctors``: comma-separated ladder levels, or 'none'."""
    if text.strip().lower() == "none":
        return []
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ladder levels such as 3,4,5 or 'none', got '{text}'") from None


def run(args) -> int:
    sampler = {"score_calls": args.score_calls, "score_noise": None if args.score_noise is None else args.score_noise == "on",
               "score_step": args.score_step, "noise_scale": args.noise_scale, "score_sampler": args.sampler,
               "score_sigma_max": args.score_sigma_max, "score_sigma_min": args.score_sigma_min,
               "score_correctors": args.score_correctors}
    if is_bundle(args.checkpoint):
        path = export_bundle(args.checkpoint, args.out, **sampler)
    else:
        path = export_checkpoint(args.checkpoint, args.out, check=not args.no_check, **sampler)
    if args.data:
        from ..verdict import judge  # runs the integrator: the plugin is loaded only here

        if load_bundle(path)[1].get("training_range") is None:
            record_training_range(path, args.data)
        verdict = judge(path, args.data, args.verdict_split, args.verdict_steps, platform=args.platform)
        record_verdict(path, verdict)
    _, metadata = load_bundle(path)
    print(f"wrote {path}: k={metadata['history_length']}, CG step {metadata['timestep_ps']} ps, "
          f"{sampler_summary(metadata['model_config'])}, validation {metadata['validation']}, "
          f"weights sha256 {metadata['weights_sha256'][:16]}")
    print((metadata.get("verdict") or {}).get("line") or "no verdict: pass --data DATASET to judge the bundle on held-out runs")
    return 0
