import sys

from sim.ui.cli import main

sys.exit(main())
