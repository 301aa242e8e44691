"""The project's scripts (benchmarks/, scripts/, examples/) loaded as modules for the tests: they are
not in the package, so they are imported from their files."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script(relative: str):
    """The module of the script at ``relative`` (a path from the project's root), named by its stem."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
