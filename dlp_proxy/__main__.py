"""`python -m dlp_proxy`: the `dlp-proxy` command, for where the script is not on PATH."""

import sys

from dlp_proxy.cli.main import main

sys.exit(main())
