"""Learned networks of the CG propagator: embedding (atom graph), dynamics and score (bead graph).

All three are E(3)-equivariant by construction and script with ``torch.jit.script``;
``Propagator`` puts them behind the bundle contract (``embed``, ``step``).
"""
from .dynamics import BeadDynamics
from .embedding import AtomEmbedding
from .neighbors import bead_graph, bond_hops, radius_graph
from .propagator import ModelConfig, Propagator
from .score import ScoreNet

__all__ = ["AtomEmbedding", "BeadDynamics", "ScoreNet", "ModelConfig", "Propagator",
           "radius_graph", "bond_hops", "bead_graph"]
