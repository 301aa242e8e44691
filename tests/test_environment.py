"""The set-up installs what the pipeline needs, with torch pinned."""
import torch


def test_torch_is_the_pinned_cpu_build():
    assert torch.__version__.startswith("2.13.0")


def test_torch_cluster_graclus_runs():
    from torch_cluster import graclus_cluster

    row = torch.tensor([0, 1, 1, 2, 2, 3])
    col = torch.tensor([1, 0, 2, 1, 3, 2])
    cluster = graclus_cluster(row, col, num_nodes=4)
    assert cluster.shape == (4,) and len(set(cluster.tolist())) == 2  # a path of 4 pairs up into 2 clusters
