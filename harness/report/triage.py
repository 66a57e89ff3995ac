"""Which pile a failure belongs to, and why a test stopped running: read from its result.

A lab lead opening a red night wants to know where to look first:

* :attr:`FailureCategory.PRODUCT` — the device answered, and not what the test
  expects (a different TTLock code, a refusal, a state the test did not want):
  a firmware or product question;
* :attr:`FailureCategory.LINK` — link or infrastructure: the adapter, a device
  not found, a connect or reply timeout, a dropped link, a bring-up that never
  reached the device: a bench question before it is a product one;
* :attr:`FailureCategory.HARNESS` — an exception of ours or of the test code
  (``TypeError``, a config the harness cannot use, a misused API): a question
  for whoever maintains the suite.

:func:`failure_category` decides from what a result already carries — the
expected and observed codes and the first line of the failure (pytest's
``ExceptionType: message``, or the plugin's bring-up message) — so it works for
nights recorded before it existed.

:func:`lost_coverage_reason` turns the skip message of a test that stopped
running into one short reason. The plugin skips every later test of a device
whose bring-up failed with ``"<device> is broken: bring-up failed in <test>:
<reason> — trace: <path>"``; that reads ``"broken at bring-up: <reason>"`` here
(a plugin that writes that form itself is taken as is).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ttlock_hil.harness.errors import TTLockError
from ttlock_hil.harness.report.model import TIMEOUT, CodeOrTimeout, Outcome, TestResult
from ttlock_hil.protocol.codes import Category, lookup
from ttlock_hil.protocol.errormap import LinkCondition
from ttlock_hil.protocol.errors import UnknownCode

__all__ = [
    "BROKEN_AT_BRING_UP",
    "FailureCategory",
    "SkipReason",
    "failure_category",
    "is_link_code",
    "lost_coverage_reason",
    "skip_reason",
]

BROKEN_AT_BRING_UP: Final = "broken at bring-up"


class FailureCategory(StrEnum):
    """Where to look first for a failed or errored test."""

    PRODUCT = "product"
    LINK = "link"
    HARNESS = "harness"

    @property
    def heading(self) -> str:
        """What a report calls the pile."""
        return _TITLES[self]

    @property
    def hint(self) -> str:
        """One line saying what the pile means and who looks at it."""
        return _HINTS[self]


_TITLES: Final = {
    FailureCategory.PRODUCT: "device answered a different code",
    FailureCategory.LINK: "link / infrastructure",
    FailureCategory.HARNESS: "harness error",
}
_HINTS: Final = {
    FailureCategory.PRODUCT: "the device answered, not as the test expects: firmware or product",
    FailureCategory.LINK: "adapter, device not found, timeouts, dropped links, failed bring-up: "
    "check the bench first",
    FailureCategory.HARNESS: "an exception of the harness or the test code: for the suite's "
    "maintainers",
}

# Link conditions that say the radio or the bench failed. BUSY, INVALID_PARAMETERS and
# UNSUPPORTED are the caller's mistake (a harness error), not the link's.
_LINK_CONDITIONS: Final = frozenset(LinkCondition) - {
    LinkCondition.BUSY,
    LinkCondition.INVALID_PARAMETERS,
    LinkCondition.UNSUPPORTED,
}


def _subclasses(root: type[TTLockError]) -> list[type[TTLockError]]:
    found: list[type[TTLockError]] = []
    for cls in root.__subclasses__():
        found.append(cls)
        found.extend(_subclasses(cls))
    return found


_LINK_EXCEPTIONS: Final = frozenset(
    {cls.__name__ for cls in _subclasses(TTLockError) if cls.condition in _LINK_CONDITIONS}
    | {
        # bleak's errors and the builtins a radio or a D-Bus socket raises
        "BleakError",
        "BleakDBusError",
        "BleakDeviceNotFoundError",
        "BleakCharacteristicNotFoundError",
        "TimeoutError",
        "ConnectionError",
        "ConnectionResetError",
        "ConnectionRefusedError",
        "BrokenPipeError",
        "OSError",
    }
)
_DEVICE_EXCEPTIONS: Final = frozenset({"DeviceError"})
_ASSERTIONS: Final = frozenset({"AssertionError"})

# pytest's one-line failure: "ExceptionType: message" (dotted for non-builtins).
_EXCEPTION: Final = re.compile(r"(?:[A-Za-z_][\w]*\.)*(?P<name>[A-Za-z_]\w*)(?::\s|\Z)")
_BRING_UP: Final = re.compile(r"\bbringing \S+ to [\w-]+ failed: ")
_CODE: Final = re.compile(r"\bcode (?P<code>-?\d+)\b")
_OBSERVED: Final = re.compile(r"\bobserved (?P<code>-?\d+)\b")
_BROKEN: Final = re.compile(
    r"(?P<device>\S+) is broken: bring-up failed in (?P<test>\S+): (?P<reason>.*)\Z", re.S
)
_TRACE_SUFFIX: Final = re.compile(r"\s+— trace: (?P<trace>\S+)\s*\Z")


def is_link_code(code: CodeOrTimeout) -> bool:
    """True when ``code`` is no answer from the device: a timeout or a Bluetooth/link code."""
    if code == TIMEOUT:
        return True
    if not isinstance(code, int):
        return False
    try:
        return lookup(code).category is Category.BLUETOOTH_LINK
    except UnknownCode:
        return False


def _exception_name(message: str) -> str | None:
    first = message.strip().splitlines()[0] if message.strip() else ""
    match = _EXCEPTION.match(first)
    return match.group("name") if match else None


def _code_verdict(code: int) -> FailureCategory:
    return FailureCategory.LINK if is_link_code(code) else FailureCategory.PRODUCT


def failure_category(result: TestResult) -> FailureCategory | None:
    """The pile a failed or errored ``result`` belongs to (``None`` when it did not fail)."""
    if not result.outcome.is_failure:
        return None
    message = result.message or ""
    if _BRING_UP.search(message):
        # The device could not be brought to the test's state. A code the device sent
        # (it refused the login, say) is a product answer; anything else is the bench.
        code = _CODE.search(message)
        if code is not None:
            return _code_verdict(int(code.group("code")))
        return FailureCategory.LINK
    observed = result.observed
    if result.expected is not None and observed is not None and observed != result.expected:
        return FailureCategory.LINK if is_link_code(observed) else FailureCategory.PRODUCT
    name = _exception_name(message)
    if name in _ASSERTIONS:
        code = _OBSERVED.search(message)
        return _code_verdict(int(code.group("code"))) if code else FailureCategory.PRODUCT
    if name in _DEVICE_EXCEPTIONS:
        return FailureCategory.PRODUCT
    if name in _LINK_EXCEPTIONS:
        return FailureCategory.LINK
    return FailureCategory.HARNESS


@dataclass(frozen=True, slots=True)
class SkipReason:
    """Why a test was skipped, short; ``trace`` is the evidence it names (the bring-up's)."""

    text: str
    trace: str | None = None
    broken: bool = False


def skip_reason(message: str | None, device: str | None = None) -> SkipReason:
    """The reason of a skip message, shortened; a broken device's skip becomes
    ``"broken at bring-up: <reason>"`` with the bring-up's trace."""
    text = (message or "").strip() or "skipped (no reason given)"
    trace = None
    suffix = _TRACE_SUFFIX.search(text)
    if suffix is not None:
        trace = suffix.group("trace")
        text = text[: suffix.start()].rstrip()
    if text.startswith(BROKEN_AT_BRING_UP):
        return SkipReason(text, trace, broken=True)
    broken = _BROKEN.match(text)
    if broken is None:
        return SkipReason(text, trace)
    reason = broken.group("reason").strip()
    name = broken.group("device") if device is None else device
    reason = reason.removeprefix(f"{name}: ")
    return SkipReason(f"{BROKEN_AT_BRING_UP}: {reason}", trace, broken=True)


def lost_coverage_reason(result: TestResult | None, *, not_run: str | None = None) -> SkipReason:
    """Why a test that passed last time has no verdict tonight.

    ``result`` is tonight's (skipped) result; ``None`` with ``not_run`` saying why
    the test did not run at all (``"not run: the night was interrupted by SIGTERM"``).
    """
    if result is None or result.outcome is not Outcome.SKIPPED:
        return SkipReason(not_run or "not run")
    return skip_reason(result.message, result.device)
