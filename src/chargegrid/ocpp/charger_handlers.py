"""What every version's handlers share, one connection each: the charger's record, the
version-free use cases (``services.charger_messages``), the registration that follows
who spoke first (``boot_sequence``), the gate before acceptance, and the messages both
versions answer alike (Heartbeat, DataTransfer, notices kept as they came).

A version (``v16.central_system``, ``v201.central_system``) lists its own handlers in
``table()`` and says what a charger may send before it is accepted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import ClassVar, Protocol

from chargegrid.ocpp.connection import Handler, Payload, Reply
from chargegrid.ocpp.errors import ErrorCode, OcppCallError
from chargegrid.ocpp.times import ocpp_time
from chargegrid.services.certificates import STATION_CERTIFICATE, CsrVerdict
from chargegrid.services.charger_messages import ChargerMessages
from chargegrid.services.charger_ports import ChargerRecord

# A Pending charger boots again after this many seconds (the answer's ``interval``):
# short, so one an operator accepts is steered soon after.
PENDING_RETRY_S = 30

HandlerFn = Callable[[Payload], Awaitable[Payload | Reply]]


class Registration(Protocol):
    """Follows who spoke first on the connection (``ocpp.boot_sequence.BootSequence``)."""

    def heard(self, action: str) -> None: ...

    def answered(self, action: str, reply: Payload | Reply, accepted: bool) -> Payload | Reply: ...


class ChargerHandlers:
    """The base of one connection's handlers; ``table()`` is the version's."""

    # What a charger not (yet) accepted may send; anything else is a SecurityError.
    before_acceptance: ClassVar[frozenset[str]] = frozenset({"BootNotification"})

    def __init__(
        self,
        charger: ChargerRecord,
        messages: ChargerMessages,
        registration: Registration | None = None,
    ) -> None:
        self.charger = charger
        self.messages = messages
        self.registration = registration
        self.accepted = charger.registration_status == "Accepted"

    def table(self) -> Mapping[str, HandlerFn]:
        raise NotImplementedError

    def handlers(self) -> dict[str, Handler]:
        return {action: self._gate(action, fn) for action, fn in self.table().items()}

    def _gate(self, action: str, fn: HandlerFn) -> Handler:
        open_before = action in self.before_acceptance

        async def gated(payload: Payload) -> Payload | Reply:
            if self.registration is not None:
                self.registration.heard(action)
            if not open_before and not self.accepted:
                raise OcppCallError(
                    ErrorCode.SECURITY_ERROR,
                    f"{action} before the central system accepted this charger",
                )
            reply = await fn(payload)
            if self.registration is None:
                return reply
            return self.registration.answered(action, reply, self.accepted)

        return gated

    def booted(self, record: ChargerRecord, now: datetime) -> Payload:
        """The BootNotification answer once the boot is stored: the current record's
        status (an operator may have accepted a Pending charger since it connected)."""
        self.charger = record
        status = record.registration_status
        self.accepted = status == "Accepted"
        interval = self.messages.heartbeat_interval if self.accepted else PENDING_RETRY_S
        return {"status": status, "currentTime": ocpp_time(now), "interval": interval}

    async def heartbeat(self, p: Payload) -> Payload:
        now = await self.messages.heartbeat(self.charger)
        return {"currentTime": ocpp_time(now)}

    async def data_transfer(self, p: Payload) -> Payload:
        # Stored and published; no vendor extension is implemented, and the spec's
        # answer for that is UnknownVendorId (both versions).
        await self.messages.notice(self.charger, "DataTransfer", p)
        return {"status": "UnknownVendorId"}

    def notice(self, action: str) -> HandlerFn:
        """A notice (firmware, diagnostics, log, security, ...): stored and published."""

        async def handle(p: Payload) -> Payload:
            await self.messages.notice(self.charger, action, p)
            return {}

        return handle

    async def sign_certificate(self, p: Payload) -> Payload | Reply:
        """A CSR for the charger's own certificate (security profile 3): checked and
        signed by the built-in CA before we answer Accepted; the chain follows in
        CertificateSigned once the answer has left (docs/security.md)."""
        await self.messages.notice(self.charger, "SignCertificate", p)
        certificates = self.messages.certificates
        kind = p.get("certificateType", STATION_CERTIFICATE)
        if certificates is None:
            return self.csr_refused(CsrVerdict(False, kind, "NoCA", "no built-in CA"))
        verdict = await certificates.review(self.charger, p["csr"], kind)
        if not verdict.accepted:
            return self.csr_refused(verdict)
        ocpp_id = self.charger.ocpp_id
        return Reply({"status": "Accepted"}, then=lambda: certificates.deliver(ocpp_id, verdict))

    def csr_refused(self, verdict: CsrVerdict) -> Payload:
        # 1.6's SignCertificate.conf has no room for a reason (2.0.1 overrides this).
        return {"status": "Rejected"}
