"""``python -m openmm_cgml.cli``: the ``cgml`` command."""
import sys

from . import main

sys.exit(main())
