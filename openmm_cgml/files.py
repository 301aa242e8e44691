"""Writing files so that a reader never sees half of one."""
from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path, write) -> Path:
    """Call ``write(temporary)`` on ``STEM.partial.SUFFIX`` in the same folder, then rename it to ``path``.

    The temporary keeps the suffix because some writers check it (mdtraj warns about HDF5 files
    not named .h5).

    ``path`` is therefore either absent, its old self, or whole; the temporary file is removed if
    ``write`` fails.  ``write`` gets a str path and must write exactly there (no suffix added).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.stem}.partial{path.suffix}")
    try:
        write(str(temporary))
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path
