"""No Kafka client of the project or its tests connects without a login: every AIOKafkaProducer,
AIOKafkaConsumer and AIOKafkaAdminClient construction passes the security options (`**…` from
KafkaSecurity.client_options() or KafkaLogin.options(), or security_protocol=…), and every make_broker
call passes `security=`. The session's broker refuses PLAINTEXT anyway; this names the line at once.

A client whose bootstrap is a literal address (a port nothing listens on, for a test of a failure
before any connection) needs no login, and is let through."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"}


def _name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _logs_in(call: ast.Call) -> bool:
    name = _name(call)
    keywords = {k.arg: k.value for k in call.keywords}
    if None in keywords:  # a **options expansion: the login comes with it
        return True
    if name == "make_broker":
        bootstrap = call.args[0] if call.args else keywords.get("bootstrap_servers")
        return "security" in keywords or isinstance(bootstrap, ast.Constant)
    return "security_protocol" in keywords or isinstance(keywords.get("bootstrap_servers"), ast.Constant)


def unsecured_clients(root: Path = ROOT) -> list[str]:
    found: list[str] = []
    for folder in ("services", "tests", "scripts", "bench"):
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and (_name(node) in CLIENTS or _name(node) == "make_broker")
                    and not _logs_in(node)
                ):
                    found.append(f"{path.relative_to(root)}:{node.lineno} {_name(node)}")
    return found


def test_every_kafka_client_passes_its_login() -> None:
    assert unsecured_clients() == []


def test_the_scan_finds_a_client_without_a_login(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "sample.py").write_text(
        "c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id='g')\n"
        "p = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap, **login.options())\n"
        "b = make_broker(bootstrap, client_id='x')\n"
        "s = make_broker(bootstrap, client_id='x', security=login.security)\n"
        "u = AIOKafkaProducer(bootstrap_servers='127.0.0.1:9')\n",
        encoding="utf-8",
    )
    assert unsecured_clients(tmp_path) == [
        "tests/sample.py:1 AIOKafkaConsumer",
        "tests/sample.py:3 make_broker",
    ]
