"""The tools of the privacy proof, checked against the session's secured broker and database before they are
trusted to find nothing: scripts/kcat.sh logs in where Debian's kcat alone cannot (why the wrapper
exists), and the scanner (tests/fixtures/privacy_scan.py) finds a person's strings — transformed too —
in a topic's keys, headers and values, in a table's text and binary columns, in a log file and on a
/metrics page, naming each place."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import unicodedata
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import text

from contracts.topics import Topic, all_topics
from services.shared.db.engine import make_engine
from services.shared.kafka_admin import create_topics
from tests.fixtures.kafka import KafkaBroker, KafkaLogin
from tests.fixtures.postgres import create_database
from tests.fixtures.privacy_scan import KCAT, Person, Scanner, kcat

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def test_kcat_sh_lists_the_secured_brokers_topics_as_admin(kafka_admin: KafkaLogin) -> None:
    listing = json.loads(kcat(kafka_admin, "-L", "-J").stdout)
    assert {t.name for t in all_topics()} <= {t["topic"] for t in listing["topics"]}


def test_debians_kcat_alone_cannot_log_in_to_kafka_4(kafka_admin: KafkaLogin, tmp_path: Path) -> None:
    """Its librdkafka 2.0.2 sends a SCRAM client-final message Kafka 4 refuses (librdkafka#4895): the
    reason scripts/kcat.sh loads the confluent-kafka wheel's librdkafka instead."""
    if not kafka_admin.security.secured:
        pytest.skip("the session's broker is not secured")
    binary = shutil.which("kcat")
    assert binary is not None, "kcat is not installed (scripts/setup.sh installs the Debian package)"
    security = kafka_admin.security
    login = tmp_path / "admin.properties"
    login.touch(mode=0o600)
    login.write_text(
        f"security.protocol=SASL_SSL\nsasl.mechanisms={security.mechanism}\n"
        f"sasl.username={security.username}\nsasl.password={security.password.get_secret_value()}\n"
        f"ssl.ca.location={security.ca_file}\n",
        encoding="utf-8",
    )
    version = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=30, check=False)
    listed = subprocess.run(
        [binary, "-F", str(login), "-b", kafka_admin.bootstrap, "-L", "-J", "-m", "8"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "librdkafka 2.0." in version.stdout, version.stdout
    assert listed.returncode != 0, "Debian's kcat logged in: scripts/kcat.sh may no longer be needed"


def test_the_login_never_reaches_kcats_command_line() -> None:
    script = KCAT.read_text(encoding="utf-8")
    assert "sasl.password=" in script and "-X" not in script
    assert "umask 077" in script and "-F" in script


@pytest.fixture
def metrics_page() -> Iterator[tuple[str, list[str]]]:
    lines: list[str] = []

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = "\n".join(lines).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", lines
    finally:
        server.shutdown()
        server.server_close()


async def test_the_scanner_finds_a_persons_strings_transformed_and_names_each_place(
    kafka_broker: KafkaBroker,
    postgres_url: str,
    tmp_path: Path,
    metrics_page: tuple[str, list[str]],
) -> None:
    person, stranger = Person.unique(), Person.unique()
    admin = kafka_broker.admin
    topic = f"privacy-scan-control-{uuid.uuid4().hex[:12]}"
    await create_topics(admin.bootstrap, [Topic(topic, 1, "the scanner's control")], security=admin.security)
    significant = person.phone[1:]
    messages = [
        # key: the name upper-cased; a header: the phone in its international spelling; the value: the
        # address line without diacritics.
        ["-k", person.name.upper(), "-H", "trace=none"],
        ["-k", "k2", "-H", f"caller=+84 {significant[:2]} {significant[2:5]} {significant[5:]}"],
        ["-k", "k3"],
    ]
    values = ["{}", "{}", json.dumps({"line": _plain(person.address_line)})]
    for args, value in zip(messages, values, strict=True):
        _produce(admin, topic, args, value)

    database = await create_database(postgres_url, "scan")
    engine = make_engine(database)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE held (id int, note text, blob bytea)"))
            await conn.execute(
                text("INSERT INTO held VALUES (1, 'nothing', NULL), (2, :note, NULL), (3, 'x', :blob)"),
                {"note": f"gọi\t{person.phone}", "blob": person.name.encode()},
            )
    finally:
        await engine.dispose()
    log = tmp_path / "service.log"
    log.write_text(
        f'{{"event": "ok"}}\n{{"event": "x", "who": {json.dumps(person.name)}}}\n', encoding="utf-8"
    )
    url, lines = metrics_page
    lines += ["# HELP x", f'x_total{{who="{person.address_line.lower()}"}} 1']

    scan = Scanner([person]).scan(
        kafka=admin, topics=[topic], databases=[database], logs=[log], metrics={"svc": url}
    )
    places = {h.place for h in scan.hits}
    assert places == {
        f"topic {topic}[0]@0 key",
        f"topic {topic}[0]@1 headers",
        f"topic {topic}[0]@2 value",
        "table public.held column note row 2",
        "table public.held column blob row 3",
        "log service.log:2",
        "metrics svc:2",
    }, scan.places()
    assert (scan.tally.topics, scan.tally.partitions, scan.tally.messages) == (1, 1, 3)
    assert (scan.tally.tables, scan.tally.rows, scan.tally.log_lines, scan.tally.metric_lines) == (1, 3, 2, 2)
    assert (
        Scanner([stranger])
        .scan(kafka=admin, topics=[topic], databases=[database], logs=[log], metrics={"svc": url})
        .hits
        == []
    )


def _produce(admin: KafkaLogin, topic: str, args: list[str], value: str) -> None:
    produced = subprocess.run(
        ["bash", str(KCAT), "-b", admin.bootstrap, "-P", "-t", topic, *args],
        input=value,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}, **admin.env()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert produced.returncode == 0, produced.stderr


def _plain(text: str) -> str:
    """As an ASCII-only system would print it (spelled here, not with the scanner's own folding)."""
    decomposed = unicodedata.normalize("NFKD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))
