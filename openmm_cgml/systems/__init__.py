"""Molecular systems to simulate: peptides from PDB files (and, later, the polymer family)."""
