"""The propagator contract, in one place: what a bundle holds and what its methods take and return.

Python code (``bundle``, ``features``, ``data``) reads these names; the C++ plugin reads the same
facts from ``plugin/openmmapi/include/internal/CGMLContract.h``, which is generated from this file
(``python -m openmm_cgml.contract --header PATH``) and checked against it by the tests.
``docs/contract.md`` is the prose description.  This module imports nothing, so the header can be
written without torch or the plugin.
"""
from __future__ import annotations

from dataclasses import dataclass

# OpenMM's units, which every length, time and mass crossing the contract is in.
UNITS = {"length": "nm", "time": "ps", "mass": "amu"}


@dataclass(frozen=True)
class Argument:
    """One tensor crossing the contract: its name, dtype ('float' = any floating point type) and shape."""

    name: str
    dtype: str
    shape: tuple[str, ...]
    meaning: str


@dataclass(frozen=True)
class Method:
    name: str
    inputs: tuple[Argument, ...]
    output: Argument
    when: str


EMBED = Method("embed", (
    Argument("atom_features", "int64", ("n_atoms", "F"), "integer features per atom, columns as the bundle's atom_features"),
    Argument("atom_bonds", "int64", ("2", "E"), "atom bonds, each once (i, j)"),
    Argument("bead_of_atom", "int64", ("n_atoms",), "bead of every atom, 0..n_beads-1 without gaps"),
    Argument("atom_masses", "float64", ("n_atoms",), "atom masses, amu"),
), Argument("bead_embedding", "float", ("n_beads", "H"), "features per bead, passed to every step()"),
    "once, when a Context is created")

STEP = Method("step", (
    Argument("bead_embedding", "float", ("n_beads", "H"), "what embed() returned"),
    Argument("history", "float64", ("k", "n_beads", "3"), "bead centres, nm, oldest frame first"),
    Argument("bead_bonds", "int64", ("2", "E_b"), "bead pairs joined by an atom bond, each once with i < j"),
    Argument("generator", "Generator", (), "the integrator's own random stream, seeded from (seed, step count): "
             "every random number of the step is drawn from it"),
), Argument("next_positions", "float64", ("n_beads", "3"), "bead centres one CG step later, nm"),
    "every CG step; sampling and collision refinement happen inside")

METHODS = (EMBED, STEP)

# Attributes of the scripted module: name -> (Python type, meaning).
HISTORY_LENGTH = "history_length"
MAX_HISTORY_LENGTH = 4096
TIMESTEP = "timestep_ps"
ATTRIBUTES = {HISTORY_LENGTH: ("int", f"k, the history frames step() takes, 1..{MAX_HISTORY_LENGTH}"),
              TIMESTEP: ("float", "the CG step the bundle was trained for, ps, finite and > 0")}

# Kept when the module is frozen for inference (torch.jit.freeze / freeze_module).
PRESERVED = tuple(m.name for m in METHODS) + tuple(ATTRIBUTES)

# The JSON metadata stored in the TorchScript archive (torch.jit.save _extra_files).
METADATA_FILE = "metadata.json"
BUNDLE_FORMAT = "openmm-cgml-bundle-2"  # 2: step() takes the generator
OLD_BUNDLE_FORMATS = ("openmm-cgml-bundle-1",)  # step() without a generator: re-export (cgml export OLD --out NEW)
# Metadata the plugin reads and checks: the weights' digest (or UNVERIFIED, an explicit opt-out) and
# the atom features the bundle was trained with.
WEIGHTS_KEY = "weights_sha256"
UNVERIFIED = "unverified"
FEATURES_KEY = "atom_features"
VOCABULARY_KEY = "vocabulary"
# What the training data covered, which the integrator checks every step (CheckTrainingRange):
# {"closest_pair_nm": closest non-bonded bead pair, "bond_length_nm": [shortest, longest bead bond]}.
TRAINING_RANGE_KEY = "training_range"
# Keys that trained bundles carry (bundles written by hand may carry none); readers use these names.
METADATA_KEYS = {
    "format": "BUNDLE_FORMAT",
    "model": "Python class of the trained model",
    "timestep_ps": "CG step, ps",
    "history_length": "k",
    "score_calls": "refinement calls per step",
    "score_sigmas_nm": "noise ladder of the refinement, nm",
    "score_step": "refinement step size alpha",
    "scales_nm": "displacement and acceleration scales, nm",
    "atom_features": "names of the atom feature columns, in order",
    "vocabulary": "number of values each atom feature column can take",
    "mapping": "atom -> bead mapping method (BeadMapping.method)",
    "data": "summary of the training data",
    "validation": "validation losses of the exported weights",
    "training": "epochs, train settings, seconds of the training epochs (validation not counted) and the training command",
    "model_config": "network settings",
    "weights_sha256": "SHA-256 of the weights (bundle.weights_sha256), checked when the bundle loads; 'unverified' opts out",
    "torch_version": "torch version that wrote the bundle",
    "verdict": "a short validation rollout against held-out classical runs: usable or not, and why (verdict.judge)",
    "training_range": "closest non-bonded bead pair and bead bond lengths of the training data, nm (checked every step)",
}

HEADER = "plugin/openmmapi/include/internal/CGMLContract.h"  # relative to the repository root


def cpp_header() -> str:
    """The C++ header with the contract's facts the plugin checks (generated; do not edit by hand)."""
    def strings(values):
        return ", ".join(f'"{v}"' for v in values)

    lines = ["// Generated from openmm_cgml/contract.py by `python -m openmm_cgml.contract --header`; do not edit.",
             "#ifndef OPENMM_CGMLCONTRACT_H_", "#define OPENMM_CGMLCONTRACT_H_", "", "namespace CGMLPlugin {",
             "namespace CGMLContract {", "",
             f'constexpr const char* metadataFile = "{METADATA_FILE}";']
    for method in METHODS:
        lines.append(f'constexpr const char* {method.name}Method = "{method.name}";')
        lines.append(f"constexpr int {method.name}Arguments = {len(method.inputs)};")
    lines += [f'constexpr const char* historyLengthAttribute = "{HISTORY_LENGTH}";',
              f"constexpr int maxHistoryLength = {MAX_HISTORY_LENGTH};",
              f'constexpr const char* timestepAttribute = "{TIMESTEP}";',
              f'constexpr const char* weightsKey = "{WEIGHTS_KEY}";',
              f'constexpr const char* unverified = "{UNVERIFIED}";',
              f'constexpr const char* featuresKey = "{FEATURES_KEY}";',
              f'constexpr const char* vocabularyKey = "{VOCABULARY_KEY}";',
              f'constexpr const char* trainingRangeKey = "{TRAINING_RANGE_KEY}";',
              f"constexpr int numPreserved = {len(PRESERVED)};",
              f"constexpr const char* preserved[numPreserved] = {{{strings(PRESERVED)}}};",
              "", "} // namespace CGMLContract", "} // namespace CGMLPlugin", "", "#endif /*OPENMM_CGMLCONTRACT_H_*/", ""]
    return "\n".join(lines)


def _main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m openmm_cgml.contract", description="Write the contract's C++ header")
    parser.add_argument("--header", required=True, help=f"file to write (the plugin's is {HEADER})")
    args = parser.parse_args(argv)
    with open(args.header, "w") as out:
        out.write(cpp_header())
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
