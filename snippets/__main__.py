"""`python -m snippets …`: the reader's command line. See `python -m snippets --help`."""

import sys

from state_simulators.cli import main

sys.exit(main())
