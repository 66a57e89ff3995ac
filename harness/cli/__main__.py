"""``python -m harness.cli`` — same as the ``ttlock-hil`` script."""

from __future__ import annotations

import sys

from ttlock_hil.harness.cli import main

sys.exit(main())
