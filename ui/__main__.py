"""`python -m ui` is the `sourcechat` command."""

import sys

from ui.cli import main

sys.exit(main())
