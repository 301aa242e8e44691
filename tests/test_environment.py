"""The set-up installs what the pipeline needs, with torch pinned."""
import torch


def test_torch_is_the_pinned_cpu_build():
    assert torch.__version__.startswith("2.13.0")


def test_torch_cluster_graclus_runs():
    from torch_cluster import graclus_cluster

    # Two disjoint bonds: whatever order graclus visits the atoms in, each bond becomes one cluster.
    row = torch.tensor([0, 1, 2, 3])
    col = torch.tensor([1, 0, 3, 2])
    cluster = graclus_cluster(row, col, num_nodes=4).tolist()
    assert cluster[0] == cluster[1] and cluster[2] == cluster[3] and cluster[0] != cluster[2]
