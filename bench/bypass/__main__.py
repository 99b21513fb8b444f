"""`python -m bench.bypass`: run the adversary's suite (see `bench.bypass.run`)."""

import sys

from bench.bypass.run import main

sys.exit(main())
