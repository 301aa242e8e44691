"""Records what the shipped bundles do, so that a refactor or a torch upgrade can be checked against it.

For every bundle in the package's models, 5 CG steps of ``CGMLIntegrator`` (seed 7, Reference
platform) from the molecule the bundle was trained on; the bead centres after each step go to
``tests/data/bundle_steps.json`` together with the torch version and the bundle's weights hash.
``tests/test_models.py`` checks that the bundles still take these steps: bit for bit on a CPU of the
same model with the same vector kernels (torch's CPU capability, recorded: AVX2, AVX512, ...), within
``TOLERANCE_NM`` elsewhere, where the kernels round differently and the difference grows over steps.

    python scripts/record_bundle_steps.py            # rewrite the file (after a deliberate change)
    python scripts/record_bundle_steps.py --check    # compare, print the largest deviation per bundle
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch

import openmm
import openmm_cgml
from openmm_cgml.systems import peptides, polymers

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "bundle_steps.json"
STEPS, SEED = 5, 7
TOLERANCE_NM = 1e-3  # on another CPU; a changed model moves beads by ~0.1 nm
POLYMER_SEQUENCE = "SRRSRRRSRSRSRSRSHSRR"  # the demo's held-out chain


def cpu() -> str:
    """The vector kernels torch's CPU code runs with on this machine (AVX2, AVX512, ...), the
    processor's model name and its family and model numbers: two processors with the same kernels but
    of another make or generation round differently (torch's math libraries choose their code paths by
    vendor and generation; a virtual machine may name every generation alike, "AMD EPYC")."""
    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []

    def first(key):
        return next((line.split(":", 1)[1].strip() for line in lines if line.split(":", 1)[0].strip() == key), None)

    name, family, model = first("model name"), first("cpu family"), first("model")
    generation = f", family {family} model {model}" if family is not None and model is not None else ""
    return f"{torch.backends.cpu.get_cpu_capability()}, {name or platform.machine()}{generation}"


def molecule_for(name: str):
    return polymers.build(POLYMER_SEQUENCE, 1) if name.startswith("polymer") else peptides.load()


def bundle_steps(path: Path) -> dict:
    """Bead centres (nm) after each of STEPS CG steps from the molecule's prepared start."""
    torch.set_num_threads(1)
    molecule = molecule_for(path.stem)
    integrator = openmm_cgml.create_integrator(str(path), molecule.topology, molecule.system)
    integrator.setRandomNumberSeed(SEED)
    context = openmm.Context(molecule.system, integrator, openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(molecule.positions)
    metadata = json.loads(integrator.getMetadata())
    mapping = openmm_cgml.BeadMapping.of_integrator(integrator, molecule.system)
    frames = []
    for _ in range(STEPS):
        integrator.step(1)
        positions = context.getState(getPositions=True).getPositions(asNumpy=True)._value
        frames.append(mapping.centres(positions).tolist())
    return {"weights_sha256": metadata.get("weights_sha256"), "steps": STEPS, "seed": SEED,
            "platform": "Reference", "bead_centres_nm": frames}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the recorded steps instead of writing them")
    args = parser.parse_args(argv)
    models = sorted(Path(openmm_cgml.shipped_model("polymer")).parent.glob("*.pt"))
    current = {path.stem: bundle_steps(path) for path in models}
    if not args.check:
        OUT.write_text(json.dumps({"torch_version": torch.__version__, "cpu": cpu(),
                                   "bundles": current}, indent=1) + "\n")
        print(f"wrote {OUT} ({len(current)} bundles, torch {torch.__version__})")
        return 0
    recorded = json.loads(OUT.read_text())
    worst = 0.0
    for name, steps in current.items():
        deviation = float(np.abs(np.array(steps["bead_centres_nm"]) - np.array(recorded["bundles"][name]["bead_centres_nm"])).max())
        worst = max(worst, deviation)
        print(f"{name}: largest deviation {deviation:.3g} nm over {steps['steps']} steps "
              f"(recorded with torch {recorded['torch_version']}, now {torch.__version__})")
    return 0 if worst == 0.0 else 1


if __name__ == "__main__":
    sys.exit(main())
