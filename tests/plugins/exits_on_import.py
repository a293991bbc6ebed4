"""A plug-in module that calls ``sys.exit(4)`` when imported."""

import sys

sys.exit(4)
