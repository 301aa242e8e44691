"""Training windows: k history frames of bead positions plus the frame one CG step later.

A ``WindowBatch`` holds several windows, possibly of different systems, as one disjoint graph:
atoms and beads of all windows are concatenated and the index tensors are offset accordingly.
Its first fields are the inputs of the contract's ``embed`` and ``step`` (``contract.EMBED``,
``contract.STEP``: names, dtypes, shapes, units), batched.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import openmm
import torch
from torch import Tensor

from .analysis import radius_of_gyration
from .features import atom_bonds, atom_features
from .mapping import BeadMapping
from .reference import DATASET_FILE


@dataclass
class WindowBatch:
    """Windows as one graph: the contract's inputs (indices global over the batch) and, besides them,
    the window of each bead and the frame one CG step after ``history[-1]`` (float64, nm)."""

    atom_features: Tensor
    atom_bonds: Tensor
    bead_of_atom: Tensor
    atom_masses: Tensor
    bead_bonds: Tensor
    bead_graph: Tensor     # (n_beads,) int64
    history: Tensor
    target: Tensor         # (n_beads, 3)
    n_graphs: int
    size_spread: Optional[Tensor] = None  # (n_graphs,) the sd of Rg² (nm², beads weighted alike) over each window's run

    @property
    def n_beads(self) -> int:
        return self.bead_graph.shape[0]

    def to(self, device) -> "WindowBatch":
        return WindowBatch(**{name: value.to(device) if isinstance(value, Tensor) else value
                              for name, value in self.__dict__.items()})


def collate(windows: list[WindowBatch]) -> WindowBatch:
    """One disjoint graph from several batches: concatenate, offsetting atom, bead and graph indices."""
    if not windows:
        raise ValueError("collate: no windows")
    k = {w.history.shape[0] for w in windows}
    if len(k) != 1:
        raise ValueError(f"collate: windows have different history lengths {sorted(k)}")
    atom_offsets = torch.tensor([0] + [w.atom_features.shape[0] for w in windows]).cumsum(0)
    bead_offsets = torch.tensor([0] + [w.n_beads for w in windows]).cumsum(0)
    graph_offsets = torch.tensor([0] + [w.n_graphs for w in windows]).cumsum(0)
    return WindowBatch(
        atom_features=torch.cat([w.atom_features for w in windows]),
        atom_bonds=torch.cat([w.atom_bonds + atom_offsets[i] for i, w in enumerate(windows)], 1),
        bead_of_atom=torch.cat([w.bead_of_atom + bead_offsets[i] for i, w in enumerate(windows)]),
        atom_masses=torch.cat([w.atom_masses for w in windows]),
        bead_bonds=torch.cat([w.bead_bonds + bead_offsets[i] for i, w in enumerate(windows)], 1),
        bead_graph=torch.cat([w.bead_graph + graph_offsets[i] for i, w in enumerate(windows)]),
        history=torch.cat([w.history for w in windows], 1),
        target=torch.cat([w.target for w in windows]),
        n_graphs=int(graph_offsets[-1]),
        size_spread=(torch.cat([w.size_spread for w in windows])
                     if all(w.size_spread is not None for w in windows) else None),
    )


# ---- reference trajectories → bead trajectories → windows -----------------------------------------


@dataclass
class BeadTrajectory:
    """One reference run seen at the bead level: the graphs the networks need and the bead centres."""

    name: str
    atom_features: Tensor  # (n_atoms, F) int64
    atom_bonds: Tensor     # (2, E) int64
    mapping: BeadMapping
    bead_bonds: Tensor     # (2, E_b) int64
    centres: Tensor        # (n_frames, n_beads, 3) float64, nm
    frame_interval_ps: float

    @functools.cached_property
    def size_spread(self) -> float:
        """The sd of Rg² over the second half of the run's frames (nm², beads weighted alike, as
        ``rollouts.rollout_statistics`` weighs them): each chain's own scale of size fluctuations, small for compact
        globules, large for swollen coils.  The first half is left out because chains start extended
        and a sticky chain's collapse would swamp its fluctuations."""
        rg2 = radius_of_gyration(self.centres[self.centres.shape[0] // 2:].numpy()) ** 2
        return float(rg2.std(ddof=1))

    def window_count(self, history_length: int, stride: int) -> int:
        return max(0, self.centres.shape[0] - history_length * stride)

    def window(self, start: int, history_length: int, stride: int, align: bool = False) -> WindowBatch:
        """History frames start, start+stride, ... (k of them) and the target one stride after the last;
        with ``align``, every frame superposed onto the last history frame (``superpose``)."""
        frames = self.centres[start: start + history_length * stride + 1: stride]
        if align:
            reference = frames[-2]
            frames = superpose(frames, reference)
            frames[-2] = reference  # as it was, not moved onto itself up to rounding
        n_beads = self.mapping.n_beads
        return WindowBatch(self.atom_features, self.atom_bonds, torch.tensor(self.mapping.bead_of_atom),
                           torch.tensor(self.mapping.atom_masses, dtype=torch.float64), self.bead_bonds,
                           torch.zeros(n_beads, dtype=torch.long), frames[:-1], frames[-1], 1,
                           torch.tensor([self.size_spread], dtype=torch.float64))


def superpose(frames: Tensor, reference: Tensor) -> Tensor:
    """``frames`` (f, n, 3) each moved rigidly (rotation and translation, no reflection) onto
    ``reference`` (n, 3) by least squares over the beads, equal weights (Kabsch): what is left of
    one frame's difference from the next is internal motion, the molecule's tumbling removed."""
    centred = frames - frames.mean(1, keepdim=True)
    target = reference - reference.mean(0)
    u, _, vt = torch.linalg.svd(centred.transpose(1, 2) @ target)   # H = Σ a bᵀ = U S Vᵀ, R = V D Uᵀ
    flip = torch.sign(torch.linalg.det(vt.transpose(1, 2) @ u.transpose(1, 2)))
    d = torch.ones(frames.shape[0], 3, dtype=frames.dtype, device=frames.device)
    d[:, 2] = flip
    rotation = vt.transpose(1, 2) @ (d.unsqueeze(2) * u.transpose(1, 2))
    return centred @ rotation.transpose(1, 2) + reference.mean(0)


def cg_stride(cg_step_ps: float, frame_interval_ps: float) -> int:
    """Frames per CG step; a clear error unless the CG step is a whole multiple of the save interval."""
    ratio = cg_step_ps / frame_interval_ps
    if ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-6 * ratio:
        raise ValueError(f"the CG step ({cg_step_ps} ps) is not a whole multiple of the save interval "
                         f"({frame_interval_ps} ps)")
    return int(round(ratio))


def read_run(h5_path):
    """A reference run written by ``reference.run`` (NAME.h5, NAME.system.xml, NAME.json), checked:
    returns its metadata, its System and its frames (an mdtraj Trajectory)."""
    import mdtraj

    h5_path = Path(h5_path)
    base = h5_path.with_suffix("")
    metadata_path, system_path = base.with_name(base.name + ".json"), base.with_name(base.name + ".system.xml")
    for path in (h5_path, metadata_path, system_path):
        if not path.is_file():
            raise FileNotFoundError(f"reference trajectory file '{path}' does not exist")
    metadata = json.loads(metadata_path.read_text())
    if metadata.get("complete") is not True:
        raise ValueError(f"'{metadata_path}' does not describe a complete run")
    system = openmm.XmlSerializer.deserialize(system_path.read_text())
    trajectory = mdtraj.load(str(h5_path))
    if trajectory.n_atoms != system.getNumParticles():
        raise ValueError(f"'{h5_path}' has {trajectory.n_atoms} atoms but its System '{system_path}' has "
                         f"{system.getNumParticles()} particles")
    return metadata, system, trajectory


def load_trajectory(h5_path, mapping_method: str = "residue") -> BeadTrajectory:
    """A reference run (see ``read_run``) mapped to beads."""
    metadata, system, trajectory = read_run(h5_path)
    topology = trajectory.topology.to_openmm()
    mapping = BeadMapping.create(mapping_method, topology, system)
    bonds = atom_bonds(topology)
    return BeadTrajectory(
        name=metadata["name"],
        atom_features=torch.tensor(atom_features(topology), dtype=torch.long),
        atom_bonds=torch.tensor(bonds, dtype=torch.long).reshape(-1, 2).T.contiguous(),
        mapping=mapping,
        bead_bonds=torch.tensor(mapping.bead_bonds(bonds), dtype=torch.long).reshape(-1, 2).T.contiguous(),
        centres=torch.from_numpy(mapping.centres(trajectory.xyz.astype(np.float64))),
        frame_interval_ps=float(metadata["frame_interval_ps"]),
    )


class Windows(torch.utils.data.Dataset):
    """Every window of ``history_length`` frames one CG step apart, plus its target, over several runs."""

    def __init__(self, trajectories: list[BeadTrajectory], history_length: int, cg_step_ps: float, every: int = 1,
                 align: bool = False):
        """Windows start at every ``every``-th frame (1: all; neighbouring windows overlap almost wholly);
        ``align`` superposes each window's frames onto its last history frame (``BeadTrajectory.window``)."""
        if history_length < 1 or every < 1:
            raise ValueError(f"history_length and every must be at least 1, got {history_length} and {every}")
        self.trajectories, self.history_length, self.cg_step_ps = trajectories, history_length, cg_step_ps
        self.every, self.align = every, align
        self.strides = [cg_stride(cg_step_ps, t.frame_interval_ps) for t in trajectories]
        counts = [-(-t.window_count(history_length, s) // every) for t, s in zip(trajectories, self.strides)]
        short = [t.name for t, c in zip(trajectories, counts) if c == 0]
        if short:
            raise ValueError(f"runs {short} are too short for {history_length} history frames {cg_step_ps} ps apart")
        self.offsets = np.cumsum([0] + counts)
        self.metadata = {"timestep_ps": float(cg_step_ps), "history_length": history_length,
                         "mapping": sorted({t.mapping.method for t in trajectories}),
                         "runs": [t.name for t in trajectories], "windows": len(self),
                         "frames": int(sum(t.centres.shape[0] for t in trajectories)),
                         "frame_interval_ps": sorted({t.frame_interval_ps for t in trajectories}), "aligned": align}

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> WindowBatch:
        if not 0 <= index < len(self):
            raise IndexError(index)
        run = int(np.searchsorted(self.offsets, index, side="right")) - 1
        start = (index - int(self.offsets[run])) * self.every
        return self.trajectories[run].window(start, self.history_length, self.strides[run], self.align)


def read_dataset(dataset_dir) -> dict:
    """The ``dataset.json`` of a complete dataset written by ``cgml reference``."""
    path = Path(dataset_dir) / DATASET_FILE
    if not path.is_file():
        raise FileNotFoundError(f"'{path}' does not exist: not a complete dataset (run cgml reference)")
    return json.loads(path.read_text())


def run_names(dataset_dir, split: str) -> list[str]:
    """The names of the runs of one split of a dataset."""
    splits = read_dataset(dataset_dir)["splits"]
    if split not in splits:
        raise ValueError(f"dataset '{dataset_dir}' has no split '{split}'; it has {sorted(splits)}")
    return list(splits[split])


def run_paths(dataset_dir, split: str) -> list[Path]:
    return [Path(dataset_dir) / "trajectories" / f"{name}.h5" for name in run_names(dataset_dir, split)]


def load_split(dataset_dir, split: str, mapping_method: str = "residue") -> list[BeadTrajectory]:
    """The runs of one split (train, validation, test) of a dataset, mapped to beads."""
    return [load_trajectory(path, mapping_method) for path in run_paths(dataset_dir, split)]


def load_windows(dataset_dir, split: str, history_length: int, cg_step_ps: float, mapping_method: str = "residue",
                 every: int = 1, align: bool = False) -> Windows:
    """The windows of one split of a dataset, with a ``metadata`` summary (CG step, mapping, runs)."""
    windows = Windows(load_split(dataset_dir, split, mapping_method), history_length, cg_step_ps, every, align)
    windows.metadata |= {"dataset": Path(dataset_dir).name, "split": split, "mapping": mapping_method}
    return windows
