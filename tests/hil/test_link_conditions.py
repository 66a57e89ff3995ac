"""Every mapped link condition, provoked on the radio path and asserted as its code.

Connect timeout, a link that drops mid-command, no reply, a reply with a bad
CRC or one that cannot be decrypted, a failed write, a missing GATT service —
plus the benign oddities a harness must shrug off (a duplicated notification,
a state push before the reply). A real bench cannot misbehave on demand, so
these are ``hil_sim_only``: the *radio* (fault plan) misbehaves, the device
model is untouched, and the test asserts what the harness reports. They use
``fast_lock``/``fast_gateway`` (short deadlines, no retries: see conftest.py).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

import pytest

from ttlock_hil.harness.errors import TTLockError
from ttlock_hil.harness.expectations import Expected
from ttlock_hil.harness.gateway import Gateway
from ttlock_hil.harness.lab import Lab
from ttlock_hil.harness.lock import Lock
from ttlock_hil.harness.sim import Fault, VirtualBench
from ttlock_hil.protocol.commands import GatewayCommand, LockCommand

pytestmark = pytest.mark.hil_sim_only(reason="needs fault injection on the radio path")

_STATUS = LockCommand.SEARCH_STATUS
_ECHO = GatewayCommand.ECHO

_REQUEST_FAULTS = [
    pytest.param(Fault.DROP_LINK_BEFORE_REPLY, {}, id="drop-link-before-reply"),
    pytest.param(Fault.SILENCE, {}, id="silence"),
    pytest.param(Fault.PARTIAL_FRAME, {}, id="partial-frame"),
    pytest.param(Fault.CORRUPT_CRC, {}, id="corrupt-crc"),
    pytest.param(Fault.UNDECRYPTABLE_REPLY, {}, id="undecryptable-reply"),
    pytest.param(Fault.WRITE_FAILED, {}, id="write-failed"),
    pytest.param(Fault.DUPLICATE_NOTIFICATION, {}, id="duplicate-notification"),
]


def _fired(bench: VirtualBench, fault: Fault) -> bool:
    """Whether ``fault`` fired in this test (an OK outcome proves nothing otherwise)."""
    return any(fired.rule.fault is fault for fired in bench.fired)


# --- locks ---------------------------------------------------------------------------------


@pytest.mark.hil_case("CONNECT", "connect-timeout")
async def test_a_lock_that_does_not_accept_the_connection_is_a_connect_timeout(
    fast_lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.inject(Fault.CONNECT_TIMEOUT)
    async with hil_expected.check():
        await fast_lock.connect()


@pytest.mark.hil_case("CONNECT", "service-missing")
async def test_a_lock_without_the_ttlock_service_is_reported(
    fast_lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    # Every connection: a lock that lacks the service (a one-shot miss is a stale GATT
    # cache, which the radio path cures by clearing the cache and looking again).
    virtual_device.inject(Fault.SERVICE_MISSING, times=None)
    async with hil_expected.check():
        await fast_lock.connect()


@pytest.mark.hil_case("CONNECT", "characteristic-missing")
async def test_a_lock_without_its_write_characteristic_is_reported(
    fast_lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.inject(Fault.CHARACTERISTIC_MISSING, characteristic="write", times=None)
    async with hil_expected.check():
        await fast_lock.connect()


@pytest.mark.hil_case("CONNECT", "notify-failed")
async def test_a_lock_refusing_notifications_is_reported(
    fast_lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.inject(Fault.NOTIFY_FAILED)
    async with hil_expected.check():
        await fast_lock.connect()


@pytest.mark.hil_case("CONNECT", "device-not-found")
async def test_a_lock_that_does_not_advertise_is_not_found(
    fast_lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.inject(Fault.NOT_ADVERTISING)
    async with hil_expected.check():
        await fast_lock.connect()


@pytest.mark.hil_case("SEARCH_STATUS", "disconnect-mid-command")
async def test_a_link_lost_before_the_reply_is_a_disconnect(
    fast_lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    await fast_lock.connect()
    virtual_device.inject(Fault.DROP_LINK_BEFORE_REPLY, command=_STATUS)
    async with hil_expected.check():
        await fast_lock.status()


@pytest.mark.hil_case("SEARCH_STATUS", "response-timeout")
async def test_a_request_without_reply_times_out_within_the_deadline(
    fast_lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    await fast_lock.connect()
    virtual_device.inject(Fault.SILENCE, command=_STATUS)
    async with hil_expected.check(within=2.0):
        await fast_lock.status()


@pytest.mark.hil_case("SEARCH_STATUS", "partial-frame")
async def test_half_a_reply_is_a_response_timeout(
    fast_lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    await fast_lock.connect()
    virtual_device.inject(Fault.PARTIAL_FRAME, command=_STATUS)
    async with hil_expected.check(within=2.0):
        await fast_lock.status()


@pytest.mark.hil_case("SEARCH_STATUS", "reply-crc")
async def test_a_reply_with_a_bad_crc_is_a_crc_error(
    fast_lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    await fast_lock.connect()
    virtual_device.inject(Fault.CORRUPT_CRC, command=_STATUS)
    async with hil_expected.check():
        await fast_lock.status()


@pytest.mark.hil_case("SEARCH_STATUS", "reply-undecryptable")
async def test_a_reply_that_does_not_decrypt_says_the_lock_may_be_reset(
    fast_lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    await fast_lock.connect()
    virtual_device.inject(Fault.UNDECRYPTABLE_REPLY, command=_STATUS)
    async with hil_expected.check():
        await fast_lock.status()


@pytest.mark.hil_case("SEARCH_STATUS", "write-failed")
async def test_a_failed_gatt_write_is_a_write_failure(
    fast_lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    await fast_lock.connect()
    virtual_device.inject(Fault.WRITE_FAILED, command=_STATUS)
    async with hil_expected.check():
        await fast_lock.status()


@pytest.mark.hil_case("SEARCH_STATUS", "duplicate-notification")
async def test_a_duplicated_reply_does_not_answer_the_next_request(
    fast_lock: Lock, virtual_device: VirtualBench, hil_expected: Expected, hil_lab: Lab
) -> None:
    await fast_lock.connect()
    virtual_device.inject(Fault.DUPLICATE_NOTIFICATION, command=_STATUS)
    async with hil_expected.check():
        await fast_lock.status()
    assert _fired(virtual_device, Fault.DUPLICATE_NOTIFICATION), "no duplicate: proved nothing"
    # GET_LOCK_TIME must get its own reply, not the stray status copy: the lock's
    # clock was set from the lab's at init, so its own answer is within a minute.
    date = await fast_lock.get_time()
    lock_time = datetime(date.year, date.month, date.day, date.hour, date.minute, date.second)
    assert abs(lock_time - hil_lab.clock.now().replace(tzinfo=None)) < timedelta(minutes=1)


@pytest.mark.hil_case("SEARCH_STATUS", "push-before-reply")
async def test_a_state_push_before_the_reply_is_not_taken_for_it(
    fast_lock: Lock, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    await fast_lock.connect()
    virtual_device.inject(Fault.PUSH_BEFORE_REPLY, command=_STATUS)
    async with hil_expected.check():
        status = await fast_lock.status()
    assert _fired(virtual_device, Fault.PUSH_BEFORE_REPLY), "no push was sent: proved nothing"
    assert 0 <= status.battery <= 100


@pytest.mark.parametrize(("fault", "options"), _REQUEST_FAULTS)
async def test_the_next_command_after_a_fault_succeeds(
    fast_lock: Lock, virtual_device: VirtualBench, fault: Fault, options: dict[str, object]
) -> None:
    """Whatever went wrong, the session recovers: a stale link is replaced, strays dropped."""
    await fast_lock.connect()
    virtual_device.inject(fault, command=_STATUS, **options)
    with contextlib.suppress(TTLockError):  # its own code is asserted by the tests above
        await fast_lock.status()
    status = await fast_lock.status()
    assert 0 <= status.battery <= 100
    assert _fired(virtual_device, fault), f"{fault.name} never fired: the test proved nothing"


# --- gateways ----------------------------------------------------------------------------------


@pytest.mark.hil_gateway
@pytest.mark.hil_case("CONNECT", "connect-timeout")
async def test_a_gateway_that_does_not_accept_the_connection_is_a_connect_timeout(
    fast_gateway: Gateway, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.inject(Fault.CONNECT_TIMEOUT)
    async with hil_expected.check():
        await fast_gateway.connect()


@pytest.mark.hil_gateway
@pytest.mark.hil_case("CONNECT", "service-missing")
async def test_a_gateway_without_its_service_is_reported(
    fast_gateway: Gateway, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.inject(Fault.SERVICE_MISSING, times=None)  # a gateway without it
    async with hil_expected.check():
        await fast_gateway.connect()


@pytest.mark.hil_gateway
@pytest.mark.hil_case("CONNECT", "notify-failed")
async def test_a_gateway_refusing_notifications_is_reported(
    fast_gateway: Gateway, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.inject(Fault.NOTIFY_FAILED)
    async with hil_expected.check():
        await fast_gateway.connect()


@pytest.mark.hil_gateway
@pytest.mark.hil_case("CONNECT", "device-not-found")
async def test_a_gateway_that_does_not_advertise_is_not_found(
    fast_gateway: Gateway, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    virtual_device.inject(Fault.NOT_ADVERTISING)
    async with hil_expected.check():
        await fast_gateway.connect()


_GATEWAY_CASES = [
    pytest.param(Fault.DROP_LINK_BEFORE_REPLY, id="disconnect-mid-command"),
    pytest.param(Fault.SILENCE, id="response-timeout"),
    pytest.param(Fault.PARTIAL_FRAME, id="partial-frame"),
    pytest.param(Fault.CORRUPT_CRC, id="reply-crc"),
    pytest.param(Fault.UNDECRYPTABLE_REPLY, id="reply-undecryptable"),
    pytest.param(Fault.WRITE_FAILED, id="write-failed"),
    pytest.param(Fault.DUPLICATE_NOTIFICATION, id="duplicate-notification"),
]


@pytest.mark.hil_gateway
@pytest.mark.hil_case("ECHO", "disconnect-mid-command")
async def test_a_gateway_link_lost_before_the_reply_is_a_disconnect(
    fast_gateway: Gateway, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    await fast_gateway.connect()
    virtual_device.inject(Fault.DROP_LINK_BEFORE_REPLY, command=_ECHO)
    async with hil_expected.check():
        await fast_gateway.echo()


@pytest.mark.hil_gateway
@pytest.mark.hil_case("ECHO", "response-timeout")
async def test_a_gateway_request_without_reply_times_out(
    fast_gateway: Gateway, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    await fast_gateway.connect()
    virtual_device.inject(Fault.SILENCE, command=_ECHO)
    async with hil_expected.check(within=2.0):
        await fast_gateway.echo()


@pytest.mark.hil_gateway
@pytest.mark.hil_case("ECHO", "partial-frame")
async def test_half_a_gateway_reply_is_a_response_timeout(
    fast_gateway: Gateway, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    await fast_gateway.connect()
    virtual_device.inject(Fault.PARTIAL_FRAME, command=_ECHO)
    async with hil_expected.check(within=2.0):
        await fast_gateway.echo()


@pytest.mark.hil_gateway
@pytest.mark.hil_case("ECHO", "reply-crc")
async def test_a_gateway_reply_with_a_bad_crc_is_a_crc_error(
    fast_gateway: Gateway, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    await fast_gateway.connect()
    virtual_device.inject(Fault.CORRUPT_CRC, command=_ECHO)
    async with hil_expected.check():
        await fast_gateway.echo()


@pytest.mark.hil_gateway
@pytest.mark.hil_case("ECHO", "reply-undecryptable")
async def test_a_gateway_reply_that_does_not_decrypt_is_reported(
    fast_gateway: Gateway, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    await fast_gateway.connect()
    virtual_device.inject(Fault.UNDECRYPTABLE_REPLY, command=_ECHO)
    async with hil_expected.check():
        await fast_gateway.echo()


@pytest.mark.hil_gateway
@pytest.mark.hil_case("ECHO", "write-failed")
async def test_a_failed_gatt_write_to_a_gateway_is_a_write_failure(
    fast_gateway: Gateway, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    await fast_gateway.connect()
    virtual_device.inject(Fault.WRITE_FAILED, command=_ECHO)
    async with hil_expected.check():
        await fast_gateway.echo()


@pytest.mark.hil_gateway
@pytest.mark.hil_case("ECHO", "duplicate-notification")
async def test_a_duplicated_gateway_reply_does_not_answer_the_next_request(
    fast_gateway: Gateway, virtual_device: VirtualBench, hil_expected: Expected
) -> None:
    await fast_gateway.connect()
    virtual_device.inject(Fault.DUPLICATE_NOTIFICATION, command=_ECHO)
    async with hil_expected.check():
        await fast_gateway.echo()
    assert _fired(virtual_device, Fault.DUPLICATE_NOTIFICATION), "no duplicate: proved nothing"
    assert (await fast_gateway.echo()).status == 0


@pytest.mark.hil_gateway
@pytest.mark.parametrize("fault", _GATEWAY_CASES)
async def test_the_next_gateway_command_after_a_fault_succeeds(
    fast_gateway: Gateway, virtual_device: VirtualBench, fault: Fault
) -> None:
    await fast_gateway.connect()
    virtual_device.inject(fault, command=_ECHO)
    with contextlib.suppress(TTLockError):  # its own code is asserted by the tests above
        await fast_gateway.echo()
    assert (await fast_gateway.echo()).status == 0
    assert _fired(virtual_device, fault), f"{fault.name} never fired: the test proved nothing"
