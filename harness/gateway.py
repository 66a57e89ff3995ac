"""The gateway API for tests: G2 (Wi-Fi), G3 (wired), G4 (4G) configuration over BLE.

::

    async with lab.gateway("gw-g2") as gateway:
        networks = await gateway.scan_wifi()
        await gateway.init(uid=42, password="account-secret", name="bench gateway",
                           ssid="LabWiFi", wifi_password="wifi-secret")

docs/protocol.md §7. The vendor sends ECHO (``45``) right after enabling
notifications; :class:`Gateway` does the same on every (re)connection it
starts. Replies are ``[status][data…]``; a failure status raises
:class:`~ttlock_hil.harness.errors.DeviceError` with the §5.2 code (status + 0x7F,
inferred). CONFIGURE_WIFI may answer "processing" (status 2) first: the call
waits for the final status.

``init()`` follows ``GatewaySDKApi.initializeGateway``: G2 ``02 → 03 → 04``;
G3/G4 ``03 → 04``, optionally preceded by ``06`` CONFIG_IP (G3) or ``07``
SET_APN (G4). Wi-Fi and account passwords are registered with the redactor
before they are sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from ttlock_hil.protocol.advert import GatewayType
from ttlock_hil.protocol.commands import GatewayCommand
from ttlock_hil.protocol.errormap import LinkCondition
from ttlock_hil.protocol.errors import MessageError
from ttlock_hil.protocol.messages import (
    DEFAULT_PORT,
    DEFAULT_SERVER,
    ConfigIp,
    ConfigureAccount,
    ConfigureServer,
    ConfigureWifi,
    Echo,
    EnterDfu,
    GatewayModel,
    GatewayReply,
    GatewayRequest,
    GetNearbySsid,
    IpMode,
    SetApn,
    SsidEntry,
    parse_gateway_reply,
    parse_ssid_scan,
)

from .session import Answer, FinalPredicate, Session

__all__ = ["Gateway", "GatewayInitResult", "IpSettings"]

_MODEL_OF_TYPE: Final = {
    GatewayType.G2: GatewayModel.G2,
    GatewayType.G3: GatewayModel.G3,
    GatewayType.G4: GatewayModel.G4,
}


@dataclass(frozen=True, slots=True)
class IpSettings:
    """CONFIG_IP (``06``) values: DHCP by default, static when ``ip`` is given."""

    ip: str | None = None
    mask: str = "255.255.255.0"
    router: str = "0.0.0.0"
    dns1: str = "0.0.0.0"
    dns2: str = "0.0.0.0"


@dataclass(frozen=True, slots=True)
class GatewayInitResult:
    """What ``init()`` did: the gateway type used and the commands sent, in order."""

    model: GatewayModel
    commands: tuple[GatewayCommand, ...]


class Gateway:
    """Typed gateway operations over one :class:`~ttlock_hil.harness.session.Session`.

    ``model`` is the lab config's model name (``g2``…), used when the advert
    does not say which gateway type it is.
    """

    def __init__(self, session: Session, *, model: str = "") -> None:
        self.session = session
        self.config_model = model

    def __repr__(self) -> str:
        return f"<Gateway {self.name}>"

    @property
    def name(self) -> str:
        return self.session.device

    @property
    def trace_path(self) -> Path:
        return self.session.trace_path

    @property
    def model(self) -> GatewayModel:
        """G2/G3/G4: from the advert when connected (§6), else from the config's model."""
        seen = self.session.seen
        if seen is not None and seen.advert is not None and seen.advert.gateway_type:
            known = _MODEL_OF_TYPE.get(seen.advert.gateway_type)
            if known is not None:
                return known
        digits = "".join(c for c in self.config_model if c.isdigit())
        try:
            return GatewayModel(int(digits))
        except ValueError:
            raise self.session.error(
                LinkCondition.UNSUPPORTED,
                f"cannot tell the gateway type of model {self.config_model!r} "
                "(expected g2, g3 or g4)",
            ) from None

    # --- lifetime ------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect (if needed) and greet the gateway with ECHO, as the vendor app does."""
        if not self.session.connected:
            await self.session.connect()
            await self.echo()

    async def disconnect(self) -> None:
        await self.session.disconnect()

    async def aclose(self) -> None:
        await self.session.aclose()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- plumbing ----------------------------------------------------------------------

    def _build(self, cls: type[GatewayRequest], /, **values: Any) -> GatewayRequest:
        try:
            return cls(**values)
        except MessageError as exc:
            raise self.session.error(
                LinkCondition.INVALID_PARAMETERS, str(exc), command=cls.COMMAND
            ) from exc

    async def _call(
        self,
        request: GatewayRequest,
        *,
        deadline: float | None = None,
        final: FinalPredicate | None = None,
        greet: bool = True,
    ) -> Answer:
        if greet:
            await self.connect()
        return await self.session.request(
            request.COMMAND, request.encode(), deadline=deadline, final=final
        )

    def _reply(self, answer: Answer) -> GatewayReply:
        try:
            return parse_gateway_reply(answer.plaintext)
        except MessageError as exc:
            raise self.session.error(
                LinkCondition.REPLY_UNPARSEABLE,
                str(exc),
                command=answer.command,
                raw_reply=answer.raw,
            ) from exc

    # --- commands -----------------------------------------------------------------------

    async def echo(self) -> GatewayReply:
        """ECHO ``SCIENER`` (``45``): the gateway answers when the link is usable."""
        return self._reply(await self._call(Echo(), greet=False))

    async def scan_wifi(self, *, deadline: float | None = None) -> tuple[SsidEntry, ...]:
        """Wi-Fi networks the gateway sees (``01``; results stream until status 5)."""
        answer = await self._call(GetNearbySsid(), deadline=deadline, final=_scan_finished)
        entries: list[SsidEntry] = []
        for plaintext in (*answer.progress, answer.plaintext):
            try:
                entries.extend(parse_ssid_scan(plaintext).entries)
            except MessageError as exc:
                raise self.session.error(
                    LinkCondition.REPLY_UNPARSEABLE,
                    str(exc),
                    command=GatewayCommand.GET_NEARBY_SSID,
                    raw_reply=answer.raw,
                ) from exc
        return tuple(entries)

    async def configure_wifi(
        self, ssid: str, password: str, *, deadline: float | None = None
    ) -> GatewayReply:
        """CONFIGURE_WIFI (``02``, G2): waits through "processing" for the final status."""
        self.session.redactor.add_text(password)
        request = self._build(ConfigureWifi, ssid=ssid, password=password)
        return self._reply(await self._call(request, deadline=deadline))

    async def configure_server(
        self, host: str = DEFAULT_SERVER, port: int = DEFAULT_PORT
    ) -> GatewayReply:
        """CONFIGURE_SERVER (``03``)."""
        return self._reply(await self._call(self._build(ConfigureServer, host=host, port=port)))

    async def configure_account(
        self,
        *,
        uid: int,
        password: str,
        name: str,
        company_id: int = 0,
        branch_id: int = 0,
        plug_version: int | None = None,
    ) -> GatewayReply:
        """CONFIGURE_ACCOUNT (``04``): binds the gateway to an account (MD5 of ``password``)."""
        redactor = self.session.redactor
        redactor.add_text(password)
        redactor.add_text(hashlib.md5(password.encode("utf-8"), usedforsecurity=False).hexdigest())
        version = plug_version if plug_version is not None else int(self.model)
        try:
            request: GatewayRequest = ConfigureAccount.with_password(
                uid=uid,
                password=password,
                company_id=company_id,
                branch_id=branch_id,
                name=name,
                plug_version=version,
            )
        except MessageError as exc:
            raise self.session.error(
                LinkCondition.INVALID_PARAMETERS,
                str(exc),
                command=GatewayCommand.CONFIGURE_ACCOUNT,
            ) from exc
        return self._reply(await self._call(request))

    async def configure_ip(self, settings: IpSettings | None = None) -> GatewayReply:
        """CONFIG_IP (``06``): DHCP, or static with ``settings.ip``."""
        settings = settings if settings is not None else IpSettings()
        if settings.ip is None:
            request = self._build(ConfigIp, mode=IpMode.DHCP)
        else:
            request = self._build(
                ConfigIp,
                mode=IpMode.STATIC,
                ip=settings.ip,
                mask=settings.mask,
                router=settings.router,
                dns1=settings.dns1,
                dns2=settings.dns2,
            )
        return self._reply(await self._call(request))

    async def set_apn(self, apn: str) -> GatewayReply:
        """SET_APN (``07``, G4)."""
        return self._reply(await self._call(self._build(SetApn, apn=apn)))

    async def enter_dfu(self) -> GatewayReply:
        """ENTER_DFU (``05``): the gateway reboots into firmware-update mode."""
        return self._reply(await self._call(EnterDfu()))

    async def init(
        self,
        *,
        uid: int,
        password: str,
        name: str,
        ssid: str | None = None,
        wifi_password: str | None = None,
        server: str = DEFAULT_SERVER,
        port: int = DEFAULT_PORT,
        company_id: int = 0,
        branch_id: int = 0,
        ip: IpSettings | None = None,
        apn: str | None = None,
        wifi_deadline: float | None = None,
    ) -> GatewayInitResult:
        """The vendor's init sequence for this gateway type (§7).

        G2 needs ``ssid``/``wifi_password`` (``02 → 03 → 04``); G3 may take ``ip``
        and G4 ``apn`` before ``03 → 04``.
        """
        await self.connect()
        model = self.model
        sent: list[GatewayCommand] = []
        if model is GatewayModel.G2:
            if ssid is None or wifi_password is None:
                raise self.session.error(
                    LinkCondition.INVALID_PARAMETERS,
                    "a G2 gateway is initialised over Wi-Fi: pass ssid= and wifi_password=",
                    command=GatewayCommand.CONFIGURE_WIFI,
                )
            await self.configure_wifi(ssid, wifi_password, deadline=wifi_deadline)
            sent.append(GatewayCommand.CONFIGURE_WIFI)
        else:
            if ip is not None:
                await self.configure_ip(ip)
                sent.append(GatewayCommand.CONFIG_IP)
            if apn is not None:
                await self.set_apn(apn)
                sent.append(GatewayCommand.SET_APN)
        await self.configure_server(server, port)
        sent.append(GatewayCommand.CONFIGURE_SERVER)
        await self.configure_account(
            uid=uid,
            password=password,
            name=name,
            company_id=company_id,
            branch_id=branch_id,
            plug_version=int(model),
        )
        sent.append(GatewayCommand.CONFIGURE_ACCOUNT)
        return GatewayInitResult(model, tuple(sent))


def _scan_finished(plaintext: bytes) -> bool:
    """Final-reply predicate of the Wi-Fi scan: the notification carrying status 5."""
    try:
        return parse_ssid_scan(plaintext).finished
    except MessageError:
        return True  # not scan data: let the session judge its status
