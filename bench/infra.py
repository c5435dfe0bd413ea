"""What every benchmark needs: the run's broker and PostgreSQL, fresh databases, credentials, the services as
subprocesses, their peak memory, and the offsets of topics and consumer groups."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text

from contracts.topics import Topic, all_topics
from services.shared.auth import Role, TokenSigner
from services.shared.auth.registry import CredentialRegistry
from services.shared.db import migrate
from services.shared.db.engine import make_engine
from services.shared.kafka_admin import create_topics, wait_for_broker
from services.shared.kafka_security import PLAINTEXT, KafkaSecurity
from services.shared.launcher import ManagedProcess

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SECRET = "bench-signing-secret-0123456789-abcdef"


@dataclass(frozen=True)
class Environment:
    """The broker and PostgreSQL server of this run."""

    bootstrap: str
    admin_url: str
    """A database URL on the server; benchmarks create databases of their own beside it."""
    work_dir: Path
    security: KafkaSecurity = PLAINTEXT
    """The benchmark's own Kafka clients' login: on the secured broker the admin (filling topics,
    placing and reading every consumer group's offsets)."""
    credentials: Path | None = None
    """On the secured broker: its directory of password files; each service logs in as its own
    principal (KAFKA_USERNAME + KAFKA_PASSWORD_FILE), as deployed."""

    @property
    def secured(self) -> bool:
        return self.credentials is not None


def secured_environment(env: Environment, bootstrap: str, data_dir: Path) -> Environment:
    """The same run on the broker of `kafka.sh start-secure <data_dir>` (its CA and password files)."""
    from pydantic import SecretStr

    admin = KafkaSecurity(
        protocol="SASL_SSL",
        username="admin",
        password=SecretStr((data_dir / "credentials" / "admin").read_text(encoding="utf-8").strip()),
        ca_file=data_dir / "tls" / "ca.pem",
    )
    return Environment(bootstrap, env.admin_url, env.work_dir, admin, data_dir / "credentials")


async def prepare_broker(bootstrap: str, security: KafkaSecurity = PLAINTEXT) -> None:
    await wait_for_broker(bootstrap, timeout_s=60, security=security)
    await create_topics(bootstrap, all_topics(), security=security)


async def new_database(admin_url: str, prefix: str) -> str:
    """A new empty database with every migration applied; returns its URL."""
    name = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
    engine = make_engine(admin_url)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


async def new_migrated_database(admin_url: str, prefix: str) -> str:
    url = await new_database(admin_url, prefix)
    await migrate.upgrade_async(url)
    return url


async def drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    engine = make_engine(admin_url)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


async def issue_token(database_url: str, role: Role, scope: str | None, subject: str) -> str:
    """A credential registered in the database's registry, as `dossier-credentials issue` makes one."""
    signer = TokenSigner(SECRET)
    now = datetime.now(UTC)
    principal, token = signer.issue(
        subject=subject, role=role, scope=scope, now=now, valid_for=timedelta(days=1)
    )
    engine = make_engine(database_url)
    try:
        await CredentialRegistry(engine).register(
            principal, issued_at=now, expires_at=now + timedelta(days=1)
        )
    finally:
        await engine.dispose()
    return token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- services as subprocesses


def peak_rss_bytes(pid: int) -> int | None:
    """The peak resident set size of a live process (VmHWM), or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def process_tree(pid: int) -> list[int]:
    """The process and its live descendants."""
    found = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        found.extend(process_tree(int(child)))
    return found


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a live process used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@dataclass
class Service:
    """A service started as a subprocess by the project's launcher; its peak RSS is sampled while it runs
    (VmHWM only grows)."""

    name: str
    process: ManagedProcess
    peak_rss: int = 0
    """Of its whole process tree at once."""
    largest_rss: int = 0
    """Of the largest single process of its tree."""
    cpu_s: float = 0.0
    _sampler: asyncio.Task[None] | None = field(default=None, repr=False)
    _profiler: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        pid = self.process.pid
        assert pid is not None, "started by start_service"
        return pid

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def sample(self) -> None:
        # The whole process tree: a service may run as a supervisor and worker processes.
        pids = process_tree(self.pid)
        sizes = [peak_rss_bytes(pid) or 0 for pid in pids]
        self.peak_rss = max(self.peak_rss, sum(sizes))
        self.largest_rss = max(self.largest_rss, *sizes)
        self.cpu_s = max(self.cpu_s, sum(cpu_seconds(pid) or 0.0 for pid in pids))

    async def _sample_forever(self) -> None:
        while self.process.running():
            self.sample()
            await asyncio.sleep(0.5)

    def alive(self) -> bool:
        return self.process.running()

    def check_alive(self) -> None:
        if not self.alive():
            raise self.process.failure(f"exited with exit code {self.process.returncode}")

    async def ready(self, timeout_s: float = 60.0) -> None:
        """Until its readiness URL answers 200; at once ProcessFailedError if it exits meanwhile."""
        await self.process.wait_ready(timeout_s)

    def profile(self, out: Path, *, rate: int = 97) -> None:
        """Sample the process's stacks with py-spy until it exits (collapsed stacks, for flame graphs)."""
        spy = Path(PYTHON).with_name("py-spy")
        out.parent.mkdir(parents=True, exist_ok=True)
        self._profiler = subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(self.pid),
                "--rate",
                str(rate),
                "--nonblocking",
                *(["--idle"] if os.environ.get("BENCH_PROFILE_IDLE") else []),
                "--format",
                "raw",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def stop(self, timeout_s: float = 20.0) -> int | None:
        self.sample()
        if self._sampler is not None:
            self._sampler.cancel()
        code = await self.process.stop(timeout_s)
        await self.profiled()
        return code

    async def profiled(self) -> None:
        """Until py-spy has written its output, which it does once the process it samples is gone."""
        if self._profiler is not None:
            await asyncio.to_thread(self._profiler.wait, 30)

    async def wait(self) -> int:
        while self.process.running():
            self.sample()
            await asyncio.sleep(0.2)
        return await self.process.wait()


def start_service(
    name: str,
    args: Sequence[str],
    env: dict[str, str],
    log_dir: Path,
    *,
    ready_url: str | None = None,
    sample: bool = True,
    cwd: Path = ROOT,
) -> Service:
    """Start ``python <args>`` with this environment added to ours; stdout and stderr go to a log file of
    this run (``<log_dir>/<name>.log``). ``Service.ready`` then waits for ``ready_url``."""
    log_path = log_dir / f"{name}.log"
    log_path.unlink(missing_ok=True)  # the launcher appends; a benchmark's log holds only its own run
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "POST_OFFICE_"))}
    full_env.update(env)
    process = ManagedProcess(
        name, [PYTHON, *args], log_path=log_path, env=full_env, ready_url=ready_url, cwd=cwd
    )
    process.start()
    service = Service(name, process)
    if sample:
        service._sampler = asyncio.create_task(service._sample_forever())
    return service


def local_ready_url(port: int, path: str = "/ready") -> str:
    """Where a service this benchmark started answers its readiness check."""
    return f"http://127.0.0.1:{port}{path}"


@contextlib.asynccontextmanager
async def running(service: Service) -> AsyncIterator[Service]:
    try:
        yield service
    finally:
        await service.stop()


def service_env(env: Environment, database_url: str, principal: str, **extra: str) -> dict[str, str]:
    """A service's environment; on the secured broker it logs in as `principal` (deploy/kafka/acls.tsv)."""
    login: dict[str, str] = {}
    if env.credentials is not None:
        login = {
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_USERNAME": principal,
            "KAFKA_PASSWORD_FILE": str(env.credentials / principal),
            "KAFKA_CA_FILE": str(env.security.ca_file),
        }
    return {
        **login,
        "KAFKA_BOOTSTRAP_SERVERS": env.bootstrap,
        "DATABASE_URL": database_url,
        "DOSSIER_AUTH_SECRET": SECRET,
        # As deployed: services log every act at INFO (to the run's log directory).
        "LOG_LEVEL": "INFO",
        **extra,
    }


# --------------------------------------------------------------------------- offsets


def partitions_of(topics: Iterable[Topic]) -> list[TopicPartition]:
    return [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]


async def end_offsets(
    bootstrap: str, topics: Iterable[Topic], security: KafkaSecurity = PLAINTEXT
) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **security.client_options()
    )
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions_of(topics))
        return ends
    finally:
        await consumer.stop()


class GroupOffsets:
    """Reads a consumer group's committed offsets."""

    def __init__(self, bootstrap: str, security: KafkaSecurity = PLAINTEXT) -> None:
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, client_id="bench-lag", **security.client_options()
        )

    async def __aenter__(self) -> GroupOffsets:
        await self._admin.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._admin.close()

    async def committed(self, group: str) -> dict[TopicPartition, int]:
        offsets = await self._admin.list_consumer_group_offsets(group)
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def commit_group_at(
    bootstrap: str, group: str, offsets: dict[TopicPartition, int], security: KafkaSecurity = PLAINTEXT
) -> None:
    """Give a consumer group these committed offsets, so that it starts there (not at the beginning)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, **security.client_options()
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: offset for tp, offset in offsets.items()})
    finally:
        await consumer.stop()


def new_producer(bootstrap: str, security: KafkaSecurity = PLAINTEXT, **options: object) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, **security.client_options(), **options)
