"""When is a scan sent again the same scan? The fingerprint of a scan recorded under a scan id.

A scan id names one scan: one act at one post office at one instant. Sending it again (a retry, or
an offline scanner uploading what was sent online) must answer duplicate; the same scan id with any
other content is another scan and is refused (scan_id_reused).

Version 2 (``v2:`` + base64url SHA-256, 46 characters) digests a canonical form of the scan:
  - the post office first: the same scan id from another office is another scan;
  - times as UTC instants with microseconds: 10:40+07:00 and 03:40Z are one instant;
  - codes in their canonical strings (the value types normalise case and spaces; enums by value);
  - every optional field written out (null when absent), so leaving a field out equals sending null;
  - the scan id left out: it is the key the fingerprint is looked up by.

Rows recorded before versioning hold version 1, a bare 64-character hex SHA-256 of the scan's JSON as
it was sent (offset included, post office not). Those rows are not migrated: their full content was
never stored, so nothing could recompute them. A legacy row matches when it was recorded by the same
post office (the row's own column) and the scan's version 1 digest, with its time written in the
offset it was sent in, in UTC or in Vietnam time (+07:00), equals the stored one; those are the
offsets clients of this system send, and any other would at worst refuse a retry as scan_id_reused.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from services.post_office.commands import AnyScan

VERSION = "v2:"
_VIETNAM = timezone(timedelta(hours=7))


def _utc_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(post_office_code: str, scan: AnyScan) -> dict[str, Any]:
    """The content that identifies a scan, in a form in which equal scans are equal dicts."""
    fields = scan.model_dump(mode="json", exclude={"scan_id"})
    fields["scanned_at"] = _utc_instant(scan.scanned_at)
    return {"post_office_code": post_office_code, **fields}


def fingerprint(post_office_code: str, scan: AnyScan) -> str:
    """The version 2 fingerprint stored with a recorded scan."""
    text = json.dumps(
        canonical(post_office_code, scan), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    digest = hashlib.sha256(text.encode()).digest()
    return VERSION + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def legacy_fingerprint(scan: AnyScan) -> str:
    """Version 1, as the previous release stored it: kept only to compare with rows it recorded."""
    return hashlib.sha256(scan.model_dump_json().encode()).hexdigest()


def same_scan(recorded: str, recorded_by: str, post_office_code: str, scan: AnyScan) -> bool:
    """Whether `scan` sent by `post_office_code` is the scan recorded by `recorded_by` with fingerprint
    `recorded` (either version)."""
    if recorded.startswith(VERSION):
        return recorded == fingerprint(post_office_code, scan)
    if recorded_by != post_office_code:
        return False
    sent = scan.scanned_at
    # A list, not a set: aware datetimes of one instant are equal whatever their offset.
    spellings = (sent, sent.astimezone(UTC), sent.astimezone(_VIETNAM))
    return any(legacy_fingerprint(scan.model_copy(update={"scanned_at": at})) == recorded for at in spellings)
