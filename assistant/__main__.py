"""`python -m assistant` is the `sourcechat` command."""

import sys

from assistant.cli import main

sys.exit(main())
