"""``python -m hpo_analytics.cli`` runs the command line."""

import sys

from . import main

sys.exit(main())
