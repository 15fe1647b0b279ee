"""``python -m fttui`` is the same as the ``fttui`` command."""
import sys

from fttui.cli import main

sys.exit(main())
