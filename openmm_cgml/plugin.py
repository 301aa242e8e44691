"""The compiled plugin: loads the CGMLIntegrator kernels into OpenMM and exposes the SWIG class.

Importing this module registers the kernels for the Reference and CPU platforms, the CUDA kernels
where they were built, and the XmlSerializer proxy; nothing is written into OpenMM's folders.  The
rest of the package (data, networks, training, export) works without it.
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

__all__ = ["CGMLIntegrator"]
