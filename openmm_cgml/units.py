"""Units at the Python API: plain numbers in the unit their name ends with (``_ps``, ``_k``, ``_nm``).

A Quantity passed where a plain number is named is converted, so OpenMM scripts can pass theirs.
"""
from __future__ import annotations

import numpy as np
import openmm.unit as unit


def plain(value, in_unit: unit.Unit, name: str) -> float:
    """``value`` as a float in ``in_unit``; a clear error if it is a Quantity of another dimension."""
    if unit.is_quantity(value):
        if not value.unit.is_compatible(in_unit):
            raise TypeError(f"{name} must be in {in_unit} (or a plain number), got a Quantity in {value.unit}")
        value = value.value_in_unit(in_unit)
    return float(value)


def plain_array(value, in_unit: unit.Unit = unit.nanometer) -> np.ndarray:
    """A float64 array in ``in_unit`` from an array or a Quantity of one (positions: nm)."""
    return np.asarray(value.value_in_unit(in_unit) if unit.is_quantity(value) else value, dtype=np.float64)
