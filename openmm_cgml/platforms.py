"""OpenMM platforms: which are here, and the default every command and run uses."""
from __future__ import annotations

import openmm


def available() -> list[str]:
    """Names of the OpenMM platforms this installation has (CUDA only where its plugin is installed)."""
    return [openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]


def default() -> str:
    """CUDA when present, otherwise CPU."""
    return "CUDA" if "CUDA" in available() else "CPU"
