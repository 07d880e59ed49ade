"""``python -m posekit`` runs the command line."""

import sys

from posekit.cli.main import main

sys.exit(main())
