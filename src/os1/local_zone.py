"""This computer's named time zone: "tomorrow at 9" said the night before a daylight-saving
change must be 9 on the clock, which a fixed UTC offset gets wrong."""

from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def named_local_zone() -> ZoneInfo | None:
    """TZ, else the zone /etc/localtime points at; None when neither names one."""
    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        target = os.path.realpath("/etc/localtime")
        name = target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else ""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return None


def local_now() -> datetime:
    """Now, aware, in this computer's named zone (a fixed offset when it names none)."""
    zone = named_local_zone()
    return datetime.now(zone) if zone is not None else datetime.now().astimezone()
