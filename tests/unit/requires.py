"""Optional dependencies the unit tests need: skipped where missing, a failure under CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["no_bumble"]


def no_bumble(*, module: bool = True) -> NoReturn:
    """Bumble is not installed: skip (the whole module, or the calling test) — or fail under
    ``CI=true``, where the dev extra installs it, so a missing one is a broken CI.

    A test module guards its imports with it::

        try:
            import bumble  # noqa: F401
        except ModuleNotFoundError:
            no_bumble()
    """
    if os.environ.get("CI") == "true":
        pytest.fail("bumble missing under CI: the dev extra installs it", pytrace=False)
    pytest.skip("Bumble not installed: pip install ttlock-hil[bumble]", allow_module_level=module)
