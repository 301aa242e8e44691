"""The spread of a reference dataset (``cgml describe``): per run, mass-weighted radius of gyration,
the relaxation time of Rg², and the mean-square displacement of the atoms, by split."""
from __future__ import annotations

import numpy as np

from . import analysis
from .data import read_dataset, read_run, run_paths
from .mapping import particle_masses

MSD_LAG_PS = 100.0


def describe_run(h5_path) -> dict:
    metadata, system, trajectory = read_run(h5_path)
    masses = np.array(particle_masses(system))
    interval = float(metadata["frame_interval_ps"])
    rg = analysis.radius_of_gyration(trajectory.xyz.astype(np.float64), masses)
    lag = max(1, int(round(MSD_LAG_PS / interval)))
    _, msd = analysis.msd(trajectory.xyz.astype(np.float64), interval, max_lag=lag, remove_com=True, masses=masses)
    return {"name": metadata["name"], "source": metadata["source"], "n_atoms": metadata["n_atoms"],
            "n_frames": int(trajectory.n_frames), "length_ps": trajectory.n_frames * interval,
            "rg_nm": float(rg.mean()), "rg_std_nm": float(rg.std()),
            "rg2_relaxation_ps": analysis.relaxation_time(rg ** 2, interval),
            f"msd_internal_{MSD_LAG_PS:g}ps_nm2": float(msd[-1]),
            "wall_seconds": metadata.get("wall_seconds_last_session")}


def describe(dataset_dir) -> dict:
    """Per-run figures and, per split, their ranges."""
    from tqdm import tqdm

    splits = read_dataset(dataset_dir)["splits"]
    report = {"dataset": str(dataset_dir), "splits": {}}
    for split in splits:
        runs = [describe_run(p) for p in tqdm(run_paths(dataset_dir, split), desc=split, leave=False)]
        spread = {key: _range([r[key] for r in runs]) for key in ("rg_nm", "rg2_relaxation_ps")}
        report["splits"][split] = {"runs": runs, "range": spread}
    return report


def _range(values) -> list[float]:
    """[min, max] over the finite values (NaN where a run could not resolve the figure)."""
    finite = [v for v in values if np.isfinite(v)]
    return [min(finite), max(finite)] if finite else [float("nan"), float("nan")]
