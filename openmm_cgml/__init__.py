"""openmm-cgml: a learned coarse-grained integrator for OpenMM.

Importing the package loads the plugin (the CGMLIntegrator kernels for the Reference and CPU
platforms, the CUDA kernels where they were built, and its XmlSerializer proxy) into OpenMM;
nothing is written into OpenMM's folders.
"""
import os
import warnings

import openmm
import torch  # noqa: F401  libtorch must be loaded before the plugin that links against it

_LIBRARY_DIR = os.path.dirname(os.path.abspath(__file__))
openmm.Platform.loadPluginLibrary(os.path.join(_LIBRARY_DIR, "libOpenMMCGMLReference.so"))
_CUDA_LIBRARY = os.path.join(_LIBRARY_DIR, "libOpenMMCGMLCUDA.so")
if os.path.exists(_CUDA_LIBRARY):  # built only where CUDA was found
    try:
        openmm.Platform.loadPluginLibrary(_CUDA_LIBRARY)
    except Exception as error:  # e.g. no CUDA driver here: the other platforms still work
        warnings.warn(f"openmm_cgml: the CUDA kernels were not loaded: {error}")

from .cgmlplugin import CGMLIntegrator  # noqa: E402
from .export import shipped_model  # noqa: E402
from .integrator import create_integrator  # noqa: E402
from .mapping import BeadMapping  # noqa: E402

__all__ = ["CGMLIntegrator", "create_integrator", "shipped_model", "BeadMapping"]
__version__ = "0.1.0"
