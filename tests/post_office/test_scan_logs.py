"""An online scan is the hot path of the post office (hundreds a second at the national peak, issue 19):
it is counted by post_office_scans_total and published on Kafka, and writes no INFO log line of its
own; its line stays at DEBUG for an operator who turns it on. The other acts still log at INFO."""

from __future__ import annotations

import logging

import pytest

from tests.post_office.helpers import SCAN_PATHS, PostOfficeClient, at, online, scan

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def test_an_online_scan_is_logged_at_debug_only(
    api: PostOfficeClient, caplog: pytest.LogCaptureFixture
) -> None:
    item_id = (await api.accepted_dossier())["item_id"]
    caplog.set_level(logging.DEBUG, logger="services.post_office")

    answer = await api.post(SCAN_PATHS["IN_TRANSIT"], online(scan("IN_TRANSIT", item_id, at(14, 17))))

    assert answer.status_code == 201, answer.text
    lines = [r for r in caplog.records if r.getMessage() == "scan_recorded"]
    assert [r.levelno for r in lines] == [logging.DEBUG]
    assert lines[0].fields["status"] == "accepted"  # type: ignore[attr-defined]
