"""Whether an id tag may charge (OCPP AuthorizationStatus), decided from its record."""

from __future__ import annotations

from datetime import datetime

from chargegrid.services.charger_ports import IdTagInfo, IdTagRecord


def id_tag_info(
    tag: IdTagRecord | None,
    now: datetime,
    *,
    busy_elsewhere: bool = False,
    unknown_accepted: bool = False,
) -> IdTagInfo:
    """Accepted, Blocked, Expired, Invalid or ConcurrentTx (a tag already charging).

    ``unknown_accepted`` is free-charging mode: a tag we never heard of may charge.
    """
    if tag is None:
        return IdTagInfo("Accepted" if unknown_accepted else "Invalid")
    if tag.status != "Accepted":
        return IdTagInfo(tag.status, tag.expires_at, tag.parent_id_tag)
    if tag.expires_at is not None and tag.expires_at <= now:
        return IdTagInfo("Expired", tag.expires_at, tag.parent_id_tag)
    if busy_elsewhere:
        return IdTagInfo("ConcurrentTx", tag.expires_at, tag.parent_id_tag)
    return IdTagInfo("Accepted", tag.expires_at, tag.parent_id_tag)
