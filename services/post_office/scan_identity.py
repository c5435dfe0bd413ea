"""When is a scan sent again the same scan? The fingerprint of a scan recorded under a scan id.

A scan id names one scan: one act at one post office at one instant. Sending it again (a retry, or
an offline scanner uploading what was sent online) must answer duplicate; the same scan id with any
other content is another scan and is refused (scan_id_reused).

The fingerprint (version 2, see fingerprints.py for the canonical form and the versions) digests the
post office first, since the same scan id from another office is another scan, then every field of the
scan but its id, the key it is looked up by. A row recorded before versioning (version 1) digests the
scan without its post office; it matches only a scan from the post office the row itself names.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.post_office import fingerprints
from services.post_office.scan_commands import AnyScan


def canonical(post_office_code: str, scan: AnyScan) -> dict[str, Any]:
    """The content that identifies a scan."""
    return {"post_office_code": post_office_code, **scan.model_dump(mode="python", exclude={"scan_id"})}


def fingerprint(post_office_code: str, scan: AnyScan) -> str:
    """The version 2 fingerprint stored with a recorded scan."""
    return fingerprints.digest(canonical(post_office_code, scan))


def legacy_fingerprint(scan: BaseModel) -> str:
    """Version 1, as the previous release stored it (no post office)."""
    return fingerprints.legacy_fingerprint(scan)


def same_scan(recorded: str, recorded_by: str, post_office_code: str, scan: AnyScan) -> bool:
    """Whether `scan` sent by `post_office_code` is the scan recorded by `recorded_by` with fingerprint
    `recorded` (either version)."""
    if recorded.startswith(fingerprints.VERSION):
        return recorded == fingerprint(post_office_code, scan)
    if recorded_by != post_office_code:
        return False
    return any(legacy_fingerprint(spelled) == recorded for spelled in fingerprints.legacy_spellings(scan))
