"""openmm-cgml: a learned coarse-grained integrator for OpenMM.

``CGMLIntegrator`` and ``create_integrator`` load the compiled plugin into OpenMM the first time
they are used (``openmm_cgml.plugin``); data, networks, training and export do not need it.
"""
from .bundle import shipped_model
from .mapping import BeadMapping

__all__ = ["CGMLIntegrator", "create_integrator", "shipped_model", "BeadMapping"]
__version__ = "0.1.0"


def __getattr__(name):
    if name == "CGMLIntegrator":
        from .plugin import CGMLIntegrator
        return CGMLIntegrator
    if name == "create_integrator":
        from .integrator import create_integrator
        return create_integrator
    raise AttributeError(f"module 'openmm_cgml' has no attribute '{name}'")
