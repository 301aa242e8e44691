"""CG integrator against classical MD on the same system: ``compare`` and ``cgml compare``.

Both runs start from the same state in the same Context: a ``CompoundIntegrator`` holds the
``CGMLIntegrator`` (0) and a ``LangevinMiddleIntegrator`` (1).  The classical run goes first, the
Context is put back to the starting state, the CG run follows, and then the CG end state is handed
back to atoms (``handoff``) and continued classically, to check the hand-off holds.  Instead of the
classical run's frames, a stored reference trajectory (any file mdtraj reads whose atoms match the
System) can serve as the classical side; a short classical run still measures the classical speed.

Frames are bead centres (nm).  Classical frames are taken every round(CG step / MD step) steps, so
both series have (nearly) the same frame interval.  Speeds count only the time spent in ``step``.
The report (``report.md``, ``report.json``, PNG plots) goes to the output folder; metrics are those
of ``analysis`` (Rg, Rg² ACF relaxation times, bead-distance, bond and angle distributions with
Jensen–Shannon divergences in bits, MSD without removing the centre of mass, collision counts).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openmm
import openmm.unit as unit
from tqdm import tqdm

from . import analysis
from .export import load_bundle
from .handoff import handoff
from .integrator import atom_bonds, bundle_mapping, create_integrator
from .mapping import BeadMapping, check_sizes

TIME_STAMPED = (".h5", ".hdf5", ".xtc", ".trr", ".nc", ".ncdf", ".netcdf")  # formats mdtraj reads times from


@dataclass
class BeadRun:
    """Bead centres (n_frames, n_beads, 3) nm every ``interval_ps``; simulated and wall time of the run."""

    beads: np.ndarray
    interval_ps: float
    label: str
    simulated_ps: float = float("nan")
    wall_s: float = float("nan")

    @property
    def ns_per_s(self) -> float:
        return self.simulated_ps / 1000.0 / self.wall_s if self.wall_s > 0 else float("nan")


def load_reference(path, topology, mapping: BeadMapping, interval_ps: float | None = None) -> BeadRun:
    """Bead centres of a stored trajectory; its atoms must match ``topology`` one to one.

    ``interval_ps`` (ps between frames) is read from the file's time stamps for formats that store
    them (HDF5, XTC, TRR, NetCDF) and must be given for the others.
    """
    import mdtraj

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reference trajectory '{path}' does not exist")
    try:
        if path.suffix.lower() in (".h5", ".hdf5", ".pdb", ".cif", ".gro"):
            traj = mdtraj.load(str(path))
        else:
            traj = mdtraj.load(str(path), top=mdtraj.Topology.from_openmm(topology))
    except Exception as error:  # mdtraj raises many kinds; name the file and the cause
        _check_atoms(path, _atom_count(path), mapping.n_atoms)
        raise ValueError(f"cannot read reference trajectory '{path}': {error}") from None
    _check_atoms(path, traj.n_atoms, mapping.n_atoms)
    if interval_ps is None:
        if path.suffix.lower() not in TIME_STAMPED or traj.n_frames < 2 or not traj.timestep > 0:
            raise ValueError(f"reference trajectory '{path}': give the time between frames (reference_interval_ps, "
                             f"--reference-interval); the file does not store usable time stamps")
        interval_ps = float(traj.timestep)
    if traj.n_frames < 2:
        raise ValueError(f"reference trajectory '{path}' has {traj.n_frames} frame; at least 2 are needed")
    return BeadRun(mapping.centres(traj.xyz.astype(np.float64)), float(interval_ps), f"reference ({path.name})")


def _check_atoms(path, found: int | None, expected: int) -> None:
    if found is not None and found != expected:
        raise ValueError(f"reference trajectory '{path}' has {found} atoms but the System has {expected}; "
                         f"it must be a trajectory of this very system")


def _atom_count(path) -> int | None:
    """Atoms per frame of a trajectory file read without a topology, or None if that fails."""
    import mdtraj

    try:
        with mdtraj.open(str(path)) as handle:
            return int(np.shape(handle.read(n_frames=1)[0])[1])
    except Exception:
        return None


def compare(system, topology, positions, bundle, mapping: BeadMapping | None = None, out_dir="out/compare",
            cg_steps: int = 100, md_steps: int | None = None, md_timestep_ps: float = 0.002,
            temperature_k: float = 300.0, friction_per_ps: float = 1.0, reference=None,
            reference_interval_ps: float | None = None, platform: str = "CPU", seed: int = 1,
            handoff_steps: int = 500, bins: int = 50, collision_percentile: float = 0.0,
            minimize: bool = True, progress: bool = True) -> dict:
    """Run CG and classical dynamics from one start, write the report to ``out_dir``, return report.json's dict.

    ``md_steps`` defaults to the CG run's simulated time (or 1000 steps, only to time the classical
    speed, when a ``reference`` trajectory is the classical side).  Times in ps, temperature in K.
    """
    if cg_steps < 2:
        raise ValueError(f"compare: cg_steps must be at least 2, got {cg_steps}")
    check_sizes(topology, system)
    if not Path(bundle).is_file():
        raise FileNotFoundError(f"bundle file '{bundle}' does not exist")
    mapping = mapping or bundle_mapping(load_bundle(bundle)[1], topology, system)
    if mapping.n_atoms != system.getNumParticles():
        raise ValueError(f"compare: the mapping covers {mapping.n_atoms} atoms but the System has "
                         f"{system.getNumParticles()} particles")
    stored = load_reference(reference, topology, mapping, reference_interval_ps) if reference is not None else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    cg = create_integrator(bundle, topology, system, mapping=mapping)
    cg.setRandomNumberSeed(seed)
    cg_dt = cg.getStepSize().value_in_unit(unit.picosecond)
    md = openmm.LangevinMiddleIntegrator(temperature_k, friction_per_ps, md_timestep_ps)
    md.setRandomNumberSeed(seed)
    compound = openmm.CompoundIntegrator()
    compound.addIntegrator(cg)
    compound.addIntegrator(md)
    context = openmm.Context(system, compound, openmm.Platform.getPlatformByName(platform))
    context.setPositions(positions)
    if minimize:
        compound.setCurrentIntegrator(1)
        openmm.LocalEnergyMinimizer.minimize(context)
    context.setVelocitiesToTemperature(temperature_k, seed)
    start = context.getState(getPositions=True, getVelocities=True)

    frame_steps = max(1, round(cg_dt / md_timestep_ps))
    if md_steps is None:
        md_steps = 1000 if stored is not None else cg_steps * frame_steps
    compound.setCurrentIntegrator(1)
    classical = _record(context, compound, md_steps, frame_steps, md_timestep_ps, mapping, "classical", progress)
    context.setState(start)
    compound.setCurrentIntegrator(0)
    learned = _record(context, compound, cg_steps, 1, cg_dt, mapping, "CG", progress)

    compound.setCurrentIntegrator(1)
    result = handoff(context, mapping, temperature=temperature_k, seed=seed).as_dict()
    compound.step(handoff_steps)
    energy = context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    result.update(classical_steps_after=handoff_steps, potential_energy_after_steps=energy,
                  stable=bool(math.isfinite(energy)))

    side = stored if stored is not None else classical
    bonds = mapping.bead_bonds(atom_bonds(topology))
    report = _metrics(learned, side, mapping.bead_masses(), bonds, bins, collision_percentile, out)
    report["speed"] = {"cg_ns_per_s": learned.ns_per_s, "classical_ns_per_s": classical.ns_per_s,
                       "ratio": learned.ns_per_s / classical.ns_per_s,
                       "cg_step_ps": cg_dt, "md_step_ps": md_timestep_ps, "platform": platform}
    report["handoff"] = result
    report["system"] = {"atoms": mapping.n_atoms, "beads": mapping.n_beads, "bead_bonds": [list(b) for b in bonds],
                        "bundle": str(bundle), "reference": None if stored is None else str(reference),
                        "temperature_k": temperature_k, "seed": seed}
    report = _clean(report)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    (out / "report.md").write_text(_markdown(report))
    return report


def _record(context, integrator, steps, frame_steps, dt_ps, mapping, label, progress) -> BeadRun:
    """Step ``steps`` (whole frames of ``frame_steps``), keeping bead centres of the start and every frame."""
    n_frames = max(1, steps // frame_steps)
    frames = [mapping.centres(context.getState(getPositions=True).getPositions(asNumpy=True))]
    wall = 0.0
    for _ in tqdm(range(n_frames), desc=f"{label} ({n_frames * frame_steps} steps)", disable=not progress, leave=False):
        tic = time.perf_counter()
        integrator.step(frame_steps)
        wall += time.perf_counter() - tic
        frames.append(mapping.centres(context.getState(getPositions=True).getPositions(asNumpy=True)))
    return BeadRun(np.array(frames), frame_steps * dt_ps, label, n_frames * frame_steps * dt_ps, wall)


def _metrics(cg: BeadRun, ref: BeadRun, masses, bonds, bins, percentile, out: Path) -> dict:
    triples = analysis.angle_triples(bonds)
    has_nonbonded = len(analysis.nonbonded_pairs(masses.size, bonds)) > 0
    threshold = analysis.collision_threshold(ref.beads, bonds, percentile) if has_nonbonded else None
    data, sides = {}, {}
    for name, t in (("cg", cg), ("classical", ref)):
        rg = analysis.radius_of_gyration(t.beads, masses)
        d = {"rg": rg, "acf": analysis.autocorrelation(rg ** 2, rg.size // 2),
             "msd": analysis.msd(t.beads, t.interval_ps), "pairs": analysis.pair_distances(t.beads),
             "bonds": analysis.bond_lengths(t.beads, bonds), "angles": np.degrees(analysis.bond_angles(t.beads, triples))}
        hits = analysis.collisions(t.beads, threshold, bonds) if threshold is not None else np.zeros(len(rg), int)
        data[name] = d
        sides[name] = {"label": t.label, "frames": int(len(rg)), "frame_interval_ps": t.interval_ps,
                       "rg_mean_nm": float(rg.mean()), "rg_std_nm": float(rg.std()),
                       "rg2_relaxation_ps": analysis.relaxation_time(rg ** 2, t.interval_ps),
                       "rg2_relaxation_integral_ps": analysis.relaxation_time(rg ** 2, t.interval_ps, "integral"),
                       "bond_length_mean_nm": _mean(d["bonds"]), "bond_angle_mean_deg": _mean(d["angles"]),
                       "msd_last_nm2": float(d["msd"][1][-1]), "msd_last_lag_ps": float(d["msd"][0][-1]),
                       "collisions_per_frame": float(hits.mean()), "frames_with_collision": float((hits > 0).mean())}
    c, r = data["cg"], data["classical"]
    js = {"rg": analysis.distribution_js(c["rg"], r["rg"], bins),
          "pair_distances_mean_over_pairs": analysis.pairwise_js(c["pairs"], r["pairs"], bins) if c["pairs"].size else None,
          "pair_distances_pooled": analysis.distribution_js(c["pairs"], r["pairs"], bins) if c["pairs"].size else None,
          "bond_lengths": analysis.distribution_js(c["bonds"], r["bonds"], bins) if c["bonds"].size else None,
          "bond_angles": analysis.distribution_js(c["angles"], r["angles"], bins) if c["angles"].size else None}
    _plots(data, sides, bins, out)
    return {"cg": sides["cg"], "classical": sides["classical"], "js_divergence_bits": js,
            "collision_threshold_nm": threshold, "collision_threshold_percentile": percentile,
            "plots": ["rg.png", "rg2_acf.png", "distances.png", "bonds.png", "msd.png"]}


def _mean(x) -> float | None:
    return float(np.mean(x)) if np.size(x) else None


def _plots(data, sides, bins, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"cg": "tab:red", "classical": "tab:blue"}

    def overlay(ax, key, xlabel):
        values = [data[n][key] for n in data if np.size(data[n][key])]
        if not values:
            ax.set_visible(False)
            return
        edges = analysis.shared_bins(*values, bins=bins)
        for n in data:
            ax.hist(np.ravel(data[n][key]), edges, density=True, histtype="step", color=colours[n], label=sides[n]["label"])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("probability density")
        ax.legend()

    def figure(name, panels):
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
        for ax, draw in zip(axes[0], panels):
            draw(ax)
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)

    def acf(ax):
        for n in data:
            lags = np.arange(data[n]["acf"].size) * sides[n]["frame_interval_ps"]
            ax.plot(lags, data[n]["acf"], color=colours[n], label=sides[n]["label"])
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("lag (ps)")
        ax.set_ylabel("Rg² autocorrelation")
        ax.legend()

    def msd(ax):
        for n in data:
            lag, value = data[n]["msd"]
            ax.loglog(lag[1:], value[1:], color=colours[n], label=sides[n]["label"])
        ax.set_xlabel("lag (ps)")
        ax.set_ylabel("bead MSD (nm²)")
        ax.legend()

    figure("rg.png", [lambda ax: overlay(ax, "rg", "bead Rg (nm)")])
    figure("rg2_acf.png", [acf])
    figure("distances.png", [lambda ax: overlay(ax, "pairs", "bead–bead distance, all pairs (nm)")])
    figure("bonds.png", [lambda ax: overlay(ax, "bonds", "CG bond length (nm)"),
                         lambda ax: overlay(ax, "angles", "CG bond angle (degrees)")])
    figure("msd.png", [msd])


def _clean(value):
    """JSON-safe: numpy scalars to Python, NaN and inf to None."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _markdown(r: dict) -> str:
    def f(x, digits=3):
        return "n/a" if x is None else f"{x:.{digits}g}"

    c, m, s, h, js = r["cg"], r["classical"], r["speed"], r["handoff"], r["js_divergence_bits"]
    rows = [("frames", c["frames"], m["frames"]), ("frame interval (ps)", f(c["frame_interval_ps"]), f(m["frame_interval_ps"])),
            ("Rg mean ± std (nm)", f"{f(c['rg_mean_nm'])} ± {f(c['rg_std_nm'])}", f"{f(m['rg_mean_nm'])} ± {f(m['rg_std_nm'])}"),
            ("Rg² relaxation, ACF to 1/e (ps)", f(c["rg2_relaxation_ps"]), f(m["rg2_relaxation_ps"])),
            ("Rg² relaxation, ACF integral (ps)", f(c["rg2_relaxation_integral_ps"]), f(m["rg2_relaxation_integral_ps"])),
            ("mean CG bond length (nm)", f(c["bond_length_mean_nm"]), f(m["bond_length_mean_nm"])),
            ("mean CG bond angle (°)", f(c["bond_angle_mean_deg"]), f(m["bond_angle_mean_deg"])),
            (f"bead MSD at {f(c['msd_last_lag_ps'])} / {f(m['msd_last_lag_ps'])} ps (nm²)", f(c["msd_last_nm2"]), f(m["msd_last_nm2"])),
            ("collisions per frame", f(c["collisions_per_frame"]), f(m["collisions_per_frame"])),
            ("frames with a collision", f(c["frames_with_collision"]), f(m["frames_with_collision"]))]
    lines = ["# CG integrator vs classical MD", "",
             f"{r['system']['atoms']} atoms in {r['system']['beads']} beads; bundle `{r['system']['bundle']}`; "
             f"classical side: {m['label']}.", "",
             f"| | CG | {m['label']} |", "|---|---:|---:|"] + [f"| {a} | {b} | {c_} |" for a, b, c_ in rows]
    lines += ["", "Relaxation times: the lag at which the normalised Rg² ACF falls to 1/e, and its integral up to "
              "the first zero crossing (n/a: the series is too short to resolve it). MSD: per bead, centre of "
              "mass not removed.",
              f"Collisions: non-bonded bead pairs closer than {f(r['collision_threshold_nm'])} nm "
              f"(percentile {r['collision_threshold_percentile']} of the classical side's non-bonded distances).", "",
              "## Jensen–Shannon divergence (bits, 0 = identical, 1 = disjoint)", "", "| distribution | JS |", "|---|---:|"]
    lines += [f"| {k.replace('_', ' ')} | {f(v)} |" for k, v in js.items()]
    lines += ["", "## Speed (simulated time per wall second, time in `step` only)", "",
              f"CG {f(s['cg_ns_per_s'])} ns/s (step {f(s['cg_step_ps'])} ps), classical {f(s['classical_ns_per_s'])} ns/s "
              f"(step {f(s['md_step_ps'])} ps), ratio **{f(s['ratio'])}** on {s['platform']}.", "",
              "## Hand-off to atoms", "",
              f"Bead centres after relaxation: max {f(h['max_deviation_nm'])} nm, rms {f(h['rms_deviation_nm'])} nm from the CG "
              f"positions; potential energy {f(h['potential_energy_before'], 5)} → {f(h['potential_energy_after'], 5)} kJ/mol, "
              f"{f(h['potential_energy_after_steps'], 5)} kJ/mol after {h['classical_steps_after']} classical steps.", ""]
    lines += [f"![{p}]({p})" for p in r["plots"]]
    return "\n".join(lines) + "\n"


def standin_bundle(topology, positions, mapping: BeadMapping, path, timestep_ps: float = 1.0) -> Path:
    """Write the BondedDiffusion stand-in, springs at the start structure's mean bead bond length (nm)."""
    from .export import save_bundle
    from .standins import BondedDiffusion

    start = mapping.centres(positions)
    bonds = mapping.bead_bonds(atom_bonds(topology))
    rest = float(np.mean([np.linalg.norm(start[i] - start[j]) for i, j in bonds])) if bonds else 0.38
    return save_bundle(BondedDiffusion(rest_nm=rest, timestep_ps=timestep_ps), path,
                       {"kind": "analytic stand-in", "model": "BondedDiffusion", "rest_nm": rest})


def _run_cli(args) -> int:
    from .systems import peptides

    peptide = peptides.load(args.pdb)
    if args.mapping:
        mapping = BeadMapping.load(args.mapping)
    elif args.bundle:
        mapping = None  # the mapping the bundle was trained with
    else:
        mapping = BeadMapping.per_residue(peptide.topology, peptide.system)
    bundle = args.bundle or standin_bundle(peptide.topology, peptide.positions, mapping, Path(args.out) / "standin.pt")
    # classical settings: the command line, else those the prepared system is meant to run with
    settings = [value if value is not None else getattr(peptide, name, default) for value, name, default in
                ((args.md_timestep, "timestep_ps", 0.002), (args.temperature, "temperature_k", 300.0),
                 (args.friction, "friction_per_ps", 1.0))]
    report = compare(peptide.system, peptide.topology, peptide.positions, bundle, mapping, args.out, args.cg_steps,
                     args.md_steps, *settings, args.reference,
                     args.reference_interval, args.platform, args.seed, args.handoff_steps, args.bins,
                     args.collision_percentile)
    s = report["speed"]
    print(f"report: {Path(args.out) / 'report.md'}; Rg CG {report['cg']['rg_mean_nm']:.3f} nm vs classical "
          f"{report['classical']['rg_mean_nm']:.3f} nm; speed ratio {s['ratio']:.3g}")
    return 0


def add_cli(commands) -> None:
    parser = commands.add_parser("compare", help="CG integrator vs classical MD (or a stored trajectory): report with plots")
    parser.add_argument("--pdb", default=None, help="PDB to prepare with pdbfixer/amber14+GBn2 (default: shipped alanine dipeptide)")
    parser.add_argument("--bundle", default=None, help="propagator bundle (default: the BondedDiffusion stand-in)")
    parser.add_argument("--mapping", default=None,
                        help="BeadMapping JSON (default: the bundle's own; one bead per residue for the stand-in)")
    parser.add_argument("--reference", default=None, help="stored classical trajectory (mdtraj-readable) to compare against")
    parser.add_argument("--reference-interval", type=float, default=None, help="ps between reference frames")
    parser.add_argument("--out", default="out/compare", help="folder for report.md, report.json and the plots")
    parser.add_argument("--cg-steps", type=int, default=100)
    parser.add_argument("--md-steps", type=int, default=None, help="default: the CG run's simulated time")
    parser.add_argument("--md-timestep", type=float, default=None, help="ps (default: the system's, 0.002)")
    parser.add_argument("--temperature", type=float, default=None, help="K (default: the system's, 300)")
    parser.add_argument("--friction", type=float, default=None, help="1/ps (default: the system's, 1)")
    parser.add_argument("--platform", default="CPU", choices=["CPU", "Reference"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--handoff-steps", type=int, default=500, help="classical steps after the hand-off")
    parser.add_argument("--bins", type=int, default=50)
    parser.add_argument("--collision-percentile", type=float, default=0.0,
                        help="percentile of the classical side's non-bonded bead distances used as collision threshold")
    parser.set_defaults(func=_run_cli)
