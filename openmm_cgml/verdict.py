"""A verdict on a trained bundle: a short rollout inside OpenMM from the start of every held-out
classical run of its dataset, compared with those runs, and one line that says whether the model is
usable and, if not, why.

The figures (pooled over molecules and runs, both sides read at the CG step): bead Rg mean and
spread; JS divergence of the bead bond lengths and of the non-bonded pair distances; the fraction of
non-bonded CG pair distances below the classical runs' 0.1 % quantile, over the 0.1 % expected;
stability: every position finite, and no non-bonded pair closer than the training data's closest
approach (the bundle's ``training_range``).  The limits are in ``LIMITS``.  ``cgml export --data``
writes the verdict into the bundle's metadata (``verdict``).
"""
from __future__ import annotations

import numpy as np

from . import analysis
from .benchmark.sources import dataset_molecules, rollout
from .bundle import load_bundle

LIMITS = {"rg_mean_rel": 0.10, "rg_std_ratio": (0.5, 2.0), "bond_js_bits": 0.2, "pair_js_bits": 0.2,
          "close_contact_ratio": 5.0}
CLOSE_QUANTILE = 0.001


# Fewest CG steps a rollout is judged on: a model whose step is a good part of the classical runs'
# length (1 ns steps against 5 ns runs) is rolled out this far and judged against every classical frame.
MIN_STEPS = 50


def judge(bundle, dataset_dir, split: str = "validation", steps: int = 200, runs_per_molecule: int = 2,
          seed: int = 1, platform: str = "CPU") -> dict:
    """Roll the bundle out ``steps`` CG steps from the start of up to ``runs_per_molecule`` runs of
    each molecule of ``split`` and compare with those runs; returns the figures, the limits, the
    reasons it fails (empty: usable) and the one-line verdict."""
    _, metadata = load_bundle(bundle)
    mapping = metadata.get("mapping") or "residue"
    method = mapping.get("method") if isinstance(mapping, dict) else mapping
    cg_step = float(metadata["timestep_ps"])
    closest = (metadata.get("training_range") or {}).get("closest_pair_nm")
    md, cg, wall, below_training, finite = [], [], 0.0, 0, True
    for molecule in dataset_molecules(dataset_dir, split, method):
        nonbonded = analysis.nonbonded_pairs(molecule.mapping.n_beads, molecule.bonds)
        for i, (replica, start) in enumerate(list(zip(molecule.replicas, molecule.starts))[:runs_per_molecule]):
            stride = max(1, int(round(cg_step / replica.interval_ps)))
            classical = replica.beads[::stride]
            n = min(steps, len(classical) - 1) if len(classical) > 1 else steps
            if n < min(steps, MIN_STEPS):  # CG steps almost as long as the run: structure against every frame
                classical, n = replica.beads, steps
            try:
                learned = rollout(bundle, molecule, start, n, seed + i, platform, f"CG {replica.name}")
            except Exception as error:  # the integrator refuses a step that makes positions NaN or infinite
                if "NaN or infinite" not in str(error):
                    raise
                finite = False
                continue
            wall += learned.wall_s
            finite &= bool(np.isfinite(learned.beads).all())
            if closest is not None and len(nonbonded):
                below_training += int((analysis.pair_distances(learned.beads, nonbonded).min(1) < closest).sum())
            md.append((molecule, classical, nonbonded))
            cg.append((molecule, learned.beads, nonbonded))
    if not md and finite:
        raise ValueError(f"judge: the '{split}' split of '{dataset_dir}' has no runs")
    figures = _figures(md, cg) if finite else {}
    figures.update(steps=sum(len(b) for _, b, _ in cg), finite=finite, wall_s=wall,
                   frames_below_training_closest=below_training if closest is not None else None)
    reasons = _reasons(figures)
    line = ("verdict: usable" if not reasons else "verdict: NOT usable: " + "; ".join(reasons)) + " (" + _summary(figures) + ")"
    return {"usable": not reasons, "reasons": reasons, "line": line, "figures": figures, "limits": LIMITS,
            "split": split, "steps_per_run": steps, "runs_per_molecule": runs_per_molecule, "seed": seed}


def _pooled(sides, what):
    return np.concatenate([what(molecule, beads, nonbonded).ravel() for molecule, beads, nonbonded in sides])


def _figures(md, cg) -> dict:
    rg = {name: _pooled(side, lambda m, b, p: analysis.radius_of_gyration(b, m.masses)) for name, side in (("md", md), ("cg", cg))}
    bonds = {name: _pooled(side, lambda m, b, p: analysis.bond_lengths(b, m.bonds)) for name, side in (("md", md), ("cg", cg))}
    pairs = {name: _pooled(side, lambda m, b, p: analysis.pair_distances(b, p)) for name, side in (("md", md), ("cg", cg))}
    threshold = float(np.quantile(pairs["md"], CLOSE_QUANTILE)) if len(pairs["md"]) else None
    figures = {"rg_mean_nm": {"cg": float(rg["cg"].mean()), "md": float(rg["md"].mean())},
               "rg_std_nm": {"cg": float(rg["cg"].std()), "md": float(rg["md"].std())},
               "bond_js_bits": analysis.distribution_js(bonds["cg"], bonds["md"]) if len(bonds["md"]) else None,
               "pair_js_bits": analysis.distribution_js(pairs["cg"], pairs["md"]) if len(pairs["md"]) else None}
    if threshold is not None:
        figures["close_contact_nm"] = threshold
        figures["close_contact_ratio"] = float((pairs["cg"] < threshold).mean() / CLOSE_QUANTILE)
    return figures


def _reasons(f: dict) -> list[str]:
    if not f["finite"]:
        return ["positions became NaN or infinite"]
    reasons = []
    rg, spread = f["rg_mean_nm"], f["rg_std_nm"]
    off = rg["cg"] / rg["md"] - 1
    if abs(off) > LIMITS["rg_mean_rel"]:
        reasons.append(f"mean Rg {off:+.0%} off the classical runs (limit ±{LIMITS['rg_mean_rel']:.0%})")
    ratio = spread["cg"] / spread["md"] if spread["md"] > 0 else float("inf")
    low, high = LIMITS["rg_std_ratio"]
    if not low <= ratio <= high:
        reasons.append(f"Rg spread {ratio:.2f}x the classical runs' (limits {low}-{high}x)")
    for key, name in (("bond_js_bits", "bond lengths"), ("pair_js_bits", "pair distances")):
        if f.get(key) is not None and f[key] > LIMITS[key]:
            reasons.append(f"JS of {name} {f[key]:.2f} bits (limit {LIMITS[key]})")
    if f.get("close_contact_ratio") is not None and f["close_contact_ratio"] > LIMITS["close_contact_ratio"]:
        reasons.append(f"{f['close_contact_ratio']:.1f}x the expected close contacts (limit {LIMITS['close_contact_ratio']}x)")
    if f.get("frames_below_training_closest"):
        reasons.append(f"{f['frames_below_training_closest']} frames with beads closer than in any training frame")
    return reasons


def _summary(f: dict) -> str:
    if not f["finite"]:
        return f"{f['steps']} steps"
    rg = f["rg_mean_nm"]
    return (f"Rg {rg['cg']:.3f} vs {rg['md']:.3f} nm, bond JS {f['bond_js_bits']:.3f}, pair JS {f['pair_js_bits']:.3f} bits, "
            f"close contacts {f.get('close_contact_ratio', float('nan')):.1f}x expected, {f['steps']} CG steps")
