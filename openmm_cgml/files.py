"""Writing files so that a reader never sees half of one."""
from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path, write) -> Path:
    """Call ``write(temporary)`` on ``PATH.partial`` in the same folder, then rename it to ``path``.

    ``path`` is therefore either absent, its old self, or whole; the temporary file is removed if
    ``write`` fails.  ``write`` gets a str path and must write exactly there (no suffix added).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    try:
        write(str(temporary))
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path
