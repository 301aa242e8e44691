"""Graphs for the networks, in plain torch so that they script into bundles (no torch-cluster ops).

- ``radius_graph``: pairs closer than a cutoff; brute force for small systems, a sorted cell list
  (cost linear in the number of points) above ``brute_force_max`` points.
- ``bond_hops``: atoms within a few bonds of each other, with the number of bonds between them
  (the atom-level neighbourhood of ``embed``, which gets no positions).
- ``bead_graph``: radius pairs and CG bonds together, each edge flagged as bond or not.
- ``VerletList``: the bead graph of points that move a little between calls (the score
  refinement), from a list built with a skin and rebuilt only when a point has moved more than half
  the skin: the same edges, in the same order, as ``bead_graph`` at every call.

Edges are returned as ``(2, E)`` int64 tensors listing both directions of every pair, without self
loops; ``edge_index[0]`` receives the message sent by ``edge_index[1]``.  Points of different
graphs of a batch (``batch`` differs) are never joined.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

# Above this many points radius_graph switches from the dense distance matrix to the cell list.
BRUTE_FORCE_MAX = 256
# Skin (nm) of the score refinement's VerletList: its moves per call are a fraction of σ, mostly
# well under 0.1 nm, so one build usually serves all calls of a step.
VERLET_SKIN = 0.3


def _limit_neighbors(edge_index: Tensor, pos: Tensor, n: int, max_neighbors: int) -> Tensor:
    """Keep, for every receiving point, its ``max_neighbors`` nearest senders (ties: the earlier
    edge); the kept edges keep their order.  Only the edges of receivers over the limit are sorted."""
    if max_neighbors <= 0 or edge_index.shape[1] == 0:
        return edge_index
    counts = torch.bincount(edge_index[0], minlength=n)
    if int(counts.max()) <= max_neighbors:
        return edge_index
    crowded = (counts > max_neighbors).index_select(0, edge_index[0])
    at = crowded.nonzero().squeeze(1)                 # edges of crowded receivers, in order
    receiver = edge_index[0].index_select(0, at)
    sender = edge_index[1].index_select(0, at)
    distance = _squared_distance(pos.index_select(0, sender), pos.index_select(0, receiver))
    by_distance = torch.sort(distance, stable=True)[1]
    by_receiver = torch.sort(receiver.index_select(0, by_distance), stable=True)[1]
    order = by_distance.index_select(0, by_receiver)  # by receiver, then distance
    receiver = receiver.index_select(0, order)
    rank = torch.arange(receiver.shape[0], device=receiver.device) - torch.searchsorted(receiver, receiver)
    keep = ~crowded
    keep[at.index_select(0, order)] = rank < max_neighbors
    return edge_index[:, keep]


def _squared_distance(a: Tensor, b: Tensor) -> Tensor:
    """|a - b|² over the last axis, summed in one fixed order (both search methods must agree)."""
    d = a - b
    d = d * d
    return d[..., 0] + d[..., 1] + d[..., 2]


def _brute_force(pos: Tensor, cutoff: float, batch: Optional[Tensor]) -> Tensor:
    """Pairs from the dense distance matrix, sorted by receiver, then sender (row-major order)."""
    close = _squared_distance(pos.unsqueeze(0), pos.unsqueeze(1)) < cutoff * cutoff
    if batch is not None:
        close &= batch.unsqueeze(0) == batch.unsqueeze(1)
    close.fill_diagonal_(False)
    return close.nonzero().t().contiguous()


def _cell_list(pos: Tensor, cutoff: float, batch: Tensor) -> Tensor:
    """Pairs from neighbouring cells of side ``cutoff``, each pair found once (half shell), then
    both directions.  Points are sorted by cell key (graph, x, y, z), so the three cells of a
    z-column are one contiguous run found by binary search: no dense grid is allocated however
    spread out the points are, and the cost grows as n log n."""
    n = pos.shape[0]
    device = pos.device
    cell = torch.floor((pos - pos.min(0)[0]) / cutoff).long() + 1  # margin of one empty cell each side
    size = cell.max(0)[0] + 2
    key = ((batch * size[0] + cell[:, 0]) * size[1] + cell[:, 1]) * size[2] + cell[:, 2]
    sorted_key, order = torch.sort(key)
    cell = cell[order]
    graph = batch[order]
    spos = pos[order]
    # Forward columns (dx, dy) of the half shell; the own column (0, 0) is handled apart.
    dx = torch.tensor([1, 1, 1, 0], device=device)
    dy = torch.tensor([-1, 0, 1, 1], device=device)
    column = ((graph.unsqueeze(1) * size[0] + cell[:, :1] + dx) * size[1] + cell[:, 1:2] + dy) * size[2]
    low = torch.searchsorted(sorted_key, column + cell[:, 2:] - 1)
    high = torch.searchsorted(sorted_key, column + cell[:, 2:] + 1, right=True)
    own_high = torch.searchsorted(sorted_key, sorted_key + 1, right=True)  # own cell and the cell above
    index = torch.arange(n, device=device)
    low = torch.cat([low, (index + 1).unsqueeze(1)], 1).reshape(-1)
    high = torch.cat([high, own_high.unsqueeze(1)], 1).reshape(-1)
    count = high - low
    first = torch.cumsum(count, 0) - count
    total = int(count.sum())
    receiver = index.repeat_interleave(5).repeat_interleave(count)
    sender = torch.arange(total, device=device) - first.repeat_interleave(count) + low.repeat_interleave(count)
    keep = _squared_distance(spos.index_select(0, sender), spos.index_select(0, receiver)) < cutoff * cutoff
    receiver = order[receiver[keep]]
    sender = order[sender[keep]]
    return torch.stack([torch.cat([receiver, sender]), torch.cat([sender, receiver])])


def radius_graph(pos: Tensor, cutoff: float, batch: Optional[Tensor] = None, max_neighbors: int = -1,
                 brute_force_max: int = BRUTE_FORCE_MAX) -> Tensor:
    """Directed pairs (i, j), i != j, with |pos[i] - pos[j]| < cutoff and batch[i] == batch[j].

    ``pos`` is (n, 3); ``batch`` (n,) int64 names the graph of each point (default: one graph).
    ``max_neighbors > 0`` keeps the nearest ones per receiver.  Brute force (O(n²) memory) for
    n <= ``brute_force_max``, otherwise a cell list (O(n log n)); both give the same edge set.
    Edges come sorted by receiver, then sender.
    """
    n = pos.shape[0]
    if n == 0:
        return torch.zeros((2, 0), dtype=torch.long, device=pos.device)
    pos = pos.detach()
    if n <= brute_force_max:
        edge_index = _brute_force(pos, cutoff, batch)  # already in order
    else:
        if batch is None:
            batch = torch.zeros(n, dtype=torch.long, device=pos.device)
        edge_index = _cell_list(pos, cutoff, batch)
        edge_index = edge_index[:, torch.argsort(edge_index[0] * n + edge_index[1])]
    return _limit_neighbors(edge_index, pos, n, max_neighbors)


def within(edge_index: Tensor, pos: Tensor, cutoff: float) -> Tensor:
    """The edges of ``edge_index`` (2, E) shorter than ``cutoff`` at ``pos``, in their order (the
    distance is computed as ``radius_graph`` computes it, so both keep the same pairs)."""
    distance = _squared_distance(pos.index_select(0, edge_index[1]), pos.index_select(0, edge_index[0]))
    return edge_index[:, distance < cutoff * cutoff]


class VerletList:
    """The bead graph of points that move a little between calls (the score calls of a step), from a
    list of the pairs within ``cutoff + skin``, rebuilt when some point has moved more than ``skin / 2``
    since the last build (``builds`` counts them): a pair closer than the cutoff now was closer than
    cutoff + skin at the build.

    ``graph(pos, bonded)`` equals ``bead_graph`` at ``pos`` (``join_bonds`` of ``radius_graph(pos, cutoff,
    None, max_neighbors, brute_force_max)`` and the bonds, flagged), made for many calls: the candidates
    are joined with the bonds once per build and each call keeps the bonds and the candidates inside
    the cutoff.  That skips the neighbour limit when no point has more than ``max_neighbors``
    candidates (the limit cannot act then).
    """

    def __init__(self, cutoff: float, skin: float, max_neighbors: int, brute_force_max: int):
        self.cutoff = cutoff
        self.skin = skin
        self.max_neighbors = max_neighbors
        self.brute_force_max = brute_force_max
        self.reference = torch.zeros((0, 3))
        self.candidates = torch.zeros((2, 0), dtype=torch.long)
        self.builds = 0
        self.crowded = False  # some point has more than max_neighbors candidates
        self.joined = False   # edges and is_bond hold the candidates joined with the bonds
        self.edges = torch.zeros((2, 0), dtype=torch.long)
        self.is_bond = torch.zeros(0)

    def _update(self, pos: Tensor) -> None:
        """Rebuilds the candidates if some point moved more than half the skin since the last build."""
        moved = self.reference.shape[0] != pos.shape[0]
        if not moved:
            shift = pos - self.reference
            moved = bool((shift * shift).sum(1).max() > 0.25 * self.skin * self.skin)
        if moved:
            self.reference = pos
            self.candidates = radius_graph(pos, self.cutoff + self.skin, None, -1, self.brute_force_max)
            self.builds += 1
            self.crowded = self.max_neighbors > 0 and self.candidates.shape[1] > 0 and \
                int(torch.bincount(self.candidates[0], minlength=pos.shape[0]).max()) > self.max_neighbors
            self.joined = False

    def _near(self, pos: Tensor) -> Tensor:
        """The candidates inside the cutoff, limited to the nearest ``max_neighbors`` per point."""
        return _limit_neighbors(within(self.candidates, pos, self.cutoff), pos, pos.shape[0], self.max_neighbors)

    def graph(self, pos: Tensor, bonded: Tensor) -> Tuple[Tensor, Tensor]:
        """``(edge_index, is_bond)`` at ``pos`` (class docstring); ``bonded``: the bonds' keys (``bond_keys``),
        the same at every call of this list (they are joined with the candidates once per build)."""
        pos = pos.detach()
        n = pos.shape[0]
        self._update(pos)
        if self.crowded:
            return join_bonds(self._near(pos), bonded, n, pos.dtype)
        if not self.joined:
            self.edges, self.is_bond = join_bonds(self.candidates, bonded, n, pos.dtype)
            self.joined = True
        distance = _squared_distance(pos.index_select(0, self.edges[1]), pos.index_select(0, self.edges[0]))
        keep = (distance < self.cutoff * self.cutoff).logical_or_(self.is_bond > 0)
        return self.edges[:, keep], self.is_bond[keep]


def symmetrize(bonds: Tensor) -> Tensor:
    """Both directions of every bond, self bonds dropped: (2, E) -> (2, 2E')."""
    bonds = bonds[:, bonds[0] != bonds[1]]
    return torch.cat([bonds, bonds.flip(0)], 1)


def bond_hops(bonds: Tensor, n: int, max_hops: int) -> Tuple[Tensor, Tensor]:
    """Directed pairs of the ``n`` atoms at most ``max_hops`` bonds apart, and that bond distance.

    ``bonds`` (2, E) lists each bond once (either order).  Returns ``edge_index`` (2, M) and ``hops``
    (M,) int64 in 1..max_hops (the shortest path length), sorted by receiver then sender.
    """
    adjacency = symmetrize(bonds)
    keys = torch.unique(adjacency[0] * n + adjacency[1])
    adjacency = torch.stack([keys // n, keys % n])
    known = torch.cat([torch.arange(n, device=bonds.device) * (n + 1), keys])  # self pairs and hop-1 pairs
    hops = torch.ones(keys.shape[0], dtype=torch.long, device=bonds.device)
    all_keys = [keys]
    all_hops = [hops]
    # Compressed rows of the adjacency, to walk one more bond from the end of every frontier pair.
    degree = torch.bincount(adjacency[0], minlength=n)
    row_start = torch.cumsum(degree, 0) - degree
    frontier = adjacency
    for hop in range(2, max_hops + 1):
        if frontier.shape[1] == 0:
            break
        count = degree[frontier[1]]
        total = int(count.sum())
        first = torch.cumsum(count, 0) - count
        within = torch.arange(total, device=bonds.device) - first.repeat_interleave(count)
        start = frontier[0].repeat_interleave(count)
        end = adjacency[1][row_start[frontier[1]].repeat_interleave(count) + within]
        new = torch.unique(start * n + end)
        new = new[~torch.isin(new, known)]
        known = torch.cat([known, new])
        all_keys.append(new)
        all_hops.append(torch.full_like(new, hop))
        frontier = torch.stack([new // n, new % n])
    keys = torch.cat(all_keys)
    hops = torch.cat(all_hops)
    order = torch.argsort(keys)
    keys = keys[order]
    return torch.stack([keys // n, keys % n]), hops[order]


def bond_keys(bonds: Tensor, n: int) -> Tensor:
    """Sorted keys ``i * n + j`` of both directions of every bond (self bonds dropped, duplicates merged)."""
    bonded = symmetrize(bonds)
    return torch.unique(bonded[0] * n + bonded[1])


def join_bonds(near: Tensor, bonded: Tensor, n: int, dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
    """The union of radius edges ``near`` (2, E), sorted by receiver then sender, and the bonds'
    sorted keys ``bonded`` (from ``bond_keys``), sorted the same way, and the bond flag of each edge."""
    device = near.device
    e = near.shape[1]
    if bonded.shape[0] == 0:
        return near, torch.zeros(e, dtype=dtype, device=device)
    if e == 0:
        return torch.stack([bonded // n, bonded % n]), torch.ones(bonded.shape[0], dtype=dtype, device=device)
    near_keys = near[0] * n + near[1]
    at = torch.searchsorted(near_keys, bonded)                    # number of radius edges before each bond
    found = near_keys.index_select(0, at.clamp_max(e - 1)) == bonded
    is_bond = torch.zeros(e, dtype=dtype, device=device).index_fill_(0, at[found], 1.0)
    missing = ~found
    if not bool(missing.any()):                                   # every bond is a radius edge too
        return near, is_bond
    extra = bonded[missing]
    at_extra = at[missing] + torch.arange(extra.shape[0], device=device)
    at_near = torch.arange(e, device=device) + torch.searchsorted(extra, near_keys)
    total = e + extra.shape[0]
    edge_index = torch.empty((2, total), dtype=near.dtype, device=device)
    edge_index[:, at_near] = near
    edge_index[:, at_extra] = torch.stack([extra // n, extra % n])
    flags = torch.empty(total, dtype=dtype, device=device)
    flags[at_near] = is_bond
    flags[at_extra] = 1.0
    return edge_index, flags


def bead_graph(pos: Tensor, bonds: Tensor, cutoff: float, batch: Optional[Tensor] = None,
               max_neighbors: int = -1, brute_force_max: int = BRUTE_FORCE_MAX) -> Tuple[Tensor, Tensor]:
    """Radius pairs plus CG bonds (bonded beads are joined at any distance).

    Returns ``edge_index`` (2, E), sorted by receiver then sender, and ``is_bond`` (E,) in pos's
    dtype (1 for a bond, 0 otherwise).
    """
    n = pos.shape[0]
    near = radius_graph(pos, cutoff, batch, max_neighbors, brute_force_max)
    return join_bonds(near, bond_keys(bonds, n), n, pos.dtype)
