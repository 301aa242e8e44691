"""The baseline users would pick instead of a learned integrator: a learned CG force field (prior
plus equivariant network, trained by force matching) run inside OpenMM through openmm-torch's
``TorchForce`` with ``LangevinMiddleIntegrator``."""
