"""The local run's supervisor: every service as a child process, a local Prometheus, the traffic
simulator with a progress bar, the closing summary; then it keeps the stack up until Ctrl-C and stops
every child in order (SIGTERM, wait, SIGKILL after the timeout).

The broker, the topics and the schema are prepared by scripts/run.sh before this starts, and the
broker is stopped by it afterwards. Nothing under the work directory is deleted: a second run continues
with the data, the signing secret and the simulator's serial numbers of the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sys
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, TypeVar

import yaml

from services.notifications.settings import NotificationsSettings
from services.shared.auth.tokens import MIN_SECRET_BYTES
from services.shared.kafka_security import PLAINTEXT, KafkaSecurity, kafka_security_of
from services.shared.key_files import ensure_key_file
from services.shared.launcher import ManagedProcess, ProcessFailedError
from services.simulator import geography
from services.simulator.clients import Endpoints
from services.simulator.credentials import issue_credentials
from services.simulator.progress import TerminalBar
from services.simulator.run import simulate
from services.simulator.settings import SimulatorSettings
from services.simulator.summary import collect, render_store
from services.stack.credentials import credential_lines, notifications_credential
from services.stack.lag import CONSUMER_GROUPS, settle
from services.stack.processes import (
    ADMIN,
    ROOT,
    SERVICES,
    SIMULATED_AGENCY_SYSTEMS,
    service_process,
    sinks_process,
)
from services.stack.prometheus import prometheus_process, write_config
from services.stack.settings import StackSettings, env_var
from services.stack.sinks.accounts import BRANDNAME, ZALO_APP_ID, ZALO_TEMPLATES, local_accounts
from services.stack.sinks.files import MAIL_DIR, SMS_DIR, ZALO_DIR
from services.tracker.settings import TrackerSettings
from services.turnaround.settings import TurnaroundSettings

T = TypeVar("T")
TRACKER_DIRECTORY = ROOT / "services" / "tracker" / "offices.yaml"


class StopRequestedError(Exception):
    """Ctrl-C (SIGINT) or SIGTERM arrived."""


def ensure_auth_secret(configured: str, path: Path) -> str:
    """DOSSIER_AUTH_SECRET when set; else the local run's own, generated once into ``path`` (mode 600)."""
    if configured:
        return configured
    if path.exists():
        secret = path.read_text().strip()
        if len(secret.encode()) >= MIN_SECRET_BYTES:
            return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(secret + "\n")
    return secret


def write_office_directory(path: Path) -> Path:
    """The tracker's office directory: its samples plus the simulator's post offices and agencies."""
    names: dict[str, dict[str, str]] = {"post_offices": {}, "agencies": {}}
    if TRACKER_DIRECTORY.exists():
        for kind, entries in (yaml.safe_load(TRACKER_DIRECTORY.read_text()) or {}).items():
            names.setdefault(kind, {}).update({str(k): str(v) for k, v in (entries or {}).items()})
    for kind, entries in geography.office_directory().items():
        names[kind].update(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by the local run (services/stack): the tracker's samples and the simulator's offices.\n"
        + yaml.safe_dump(names, allow_unicode=True, sort_keys=True)
    )
    return path


@dataclass
class Supervisor:
    settings: StackSettings
    simulator: SimulatorSettings
    simulate: bool
    prometheus: bool
    out: TextIO = field(default_factory=lambda: sys.stdout)
    children: list[ManagedProcess] = field(default_factory=list)

    def _local_key_file(self, name: str) -> Path:
        path = self.work / name
        ensure_key_file(path)
        return path

    @property
    def work(self) -> Path:
        work = self.settings.work_dir
        return work if work.is_absolute() else ROOT / work

    @property
    def kafka_credentials(self) -> Path | None:
        """The principals' password files on the secured broker; None on a PLAINTEXT one."""
        directory = self.settings.kafka_credentials_dir
        if self.settings.kafka_security_protocol != "SASL_SSL" or directory is None:
            return None
        return directory if directory.is_absolute() else ROOT / directory

    def kafka_security(self, principal: str) -> KafkaSecurity:
        """The login of `principal` for the supervisor's own clients (the simulator's agency systems,
        the lag watch), read from its password file."""
        credentials = self.kafka_credentials
        if credentials is None:
            return PLAINTEXT
        return kafka_security_of(
            self.settings.model_copy(
                update={"kafka_username": principal, "kafka_password_file": credentials / principal}
            )
        )

    def url(self, port: int) -> str:
        return f"http://{self.settings.host}:{port}"

    @property
    def ports(self) -> dict[str, int]:
        s = self.settings
        return {
            "post_office": s.post_office_port,
            "agency": s.agency_port,
            "tracker": s.tracker_port,
            "turnaround": s.turnaround_port,
            "notifications": s.notifications_port,
        }

    def say(self, text: str) -> None:
        print(f"[stack] {text}", file=self.out, flush=True)

    # ----------------------------------------------------------------------- the run

    async def run(self) -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self._until_stopped(self._bring_up(), stop)
            self.say("the stack keeps running; Ctrl-C stops it")
            failed = await self._until_stopped(self._watch(), stop)
            self.say(f"{failed} exited unexpectedly; stopping the stack")
            print(next(c for c in self.children if c.name == failed).tail(), file=sys.stderr)
            return 1
        except StopRequestedError:
            print(file=self.out)
            self.say("stopping")
            return 0
        except ProcessFailedError as exc:
            self.say(str(exc))
            return 1
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await self._stop_children()

    async def _until_stopped(self, work: Awaitable[T], stop: asyncio.Event) -> T:
        task = asyncio.ensure_future(work)
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise StopRequestedError

    def _check_ports_free(self) -> None:
        """A service that cannot bind its port exits, but another process there would answer /ready."""
        wanted = {
            **self.ports,
            "the local SMTP server": self.settings.smtp_sink_port,
            "the local eSMS and Zalo": self.settings.provider_sink_port,
        }
        if self.prometheus:
            wanted["prometheus"] = self.settings.prometheus_port
        for name, port in wanted.items():
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.settings.host, port), timeout=0.5),
            ):
                raise ProcessFailedError(
                    f"port {port} on {self.settings.host} (for {name}) is in use — is another local run up? "
                    f"Stop it, or choose other ports (STACK_*_PORT)"
                )

    async def _bring_up(self) -> None:
        self._check_ports_free()
        secret = ensure_auth_secret(self.settings.auth_secret.get_secret_value(), self.work / "auth_secret")
        env = self._service_env(secret)
        own_env = {"notifications": self.notifications_env(await notifications_credential(self.db, secret))}
        log_dir = self.work / "logs"
        sinks = sinks_process(
            host=self.settings.host,
            smtp_port=self.settings.smtp_sink_port,
            http_port=self.settings.provider_sink_port,
            work=self.work,
            zalo_webhook_url=f"{self.url(self.settings.notifications_port)}/receipts/zalo",
            log_dir=log_dir,
        )
        sinks.start()
        self.children.append(sinks)
        self.say(
            f"started the local SMTP server, eSMS and Zalo (pid {sinks.pid}): messages land in "
            f"{self._relative(self.work)}/{{{MAIL_DIR},{SMS_DIR},{ZALO_DIR}}}/"
        )
        for spec in SERVICES:
            child = service_process(
                spec,
                host=self.settings.host,
                port=self.ports[spec.name],
                env={**env, **own_env.get(spec.name, {})},
                log_dir=log_dir,
                kafka_credentials=self.kafka_credentials,
            )
            child.start()
            self.children.append(child)
            self.say(f"started {spec.name} (pid {child.pid}) on {self.url(self.ports[spec.name])}")
        await asyncio.gather(*(c.wait_ready(self.settings.ready_timeout_s) for c in self.children))
        self.say("every service answers /ready; logs in " + self._relative(log_dir))
        await self.announce_credentials(secret)
        if self.prometheus:
            await self._start_prometheus()
        if self.simulate:
            try:
                await self._simulate(secret)
            except Exception as exc:  # the stack is up and useful without the simulated day
                self.say(f"the simulator stopped: {type(exc).__name__}: {exc}")
        self._print_urls()

    async def announce_credentials(self, secret: str) -> None:
        """How to call the APIs as each role: ready-made tokens when the run signs with its own key."""
        own_key = not self.settings.auth_secret.get_secret_value()
        try:
            lines = await credential_lines(
                self.settings.database_url, secret, secret_file=self.work / "auth_secret" if own_key else None
            )
        except Exception as exc:  # the stack is up and useful without them
            self.say(f"no ready-made credentials ({type(exc).__name__}); see README, Credentials")
            return
        print("", *lines, sep="\n", file=self.out, flush=True)

    def _service_env(self, secret: str) -> dict[str, str]:
        own = TurnaroundSettings.model_fields["consumer_group"].default
        others = {group: list(topics) for group, topics in CONSUMER_GROUPS.items() if group != own}
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.settings.kafka_bootstrap_servers,
            "DATABASE_URL": self.settings.database_url,
            "DOSSIER_AUTH_SECRET": secret,
            env_var(TrackerSettings, "office_directory"): str(
                write_office_directory(self.work / "offices.yaml")
            ),
            # The tracker keeps its own phone-digest key beside the signing secret (unless
            # TRACKER_LOOKUP_KEY is set); a run from before that key existed made its digests with the
            # signing secret, so the tracker still accepts those.
            # Generated here, by the local run that owns its work directory: the tracker itself generates
            # a missing key file only under the project's .work/ (a mistyped path must not make a key).
            env_var(TrackerSettings, "lookup_key_file"): str(self._local_key_file("lookup_key")),
            env_var(TrackerSettings, "lookup_previous_keys"): os.environ.get(
                env_var(TrackerSettings, "lookup_previous_keys"), json.dumps([secret])
            ),
            # The turnaround service exports every group's lag, so the pipeline dashboard shows them all.
            env_var(TurnaroundSettings, "lag_groups"): json.dumps(others),
        }

    @property
    def db(self) -> str:
        return self.settings.database_url

    def notifications_env(self, contact_token: str) -> dict[str, str]:
        """The notifications service's own settings: the owners' contact APIs with its credential, and
        the local SMTP server, eSMS and Zalo (services/stack/sinks) as its providers."""
        accounts = local_accounts(self.work)
        providers = self.url(self.settings.provider_sink_port)
        desks = {
            agency.code: f"motcua.{agency.code.lower()}@dossier-post.invalid"
            for _, agency in geography.agencies()
        }
        values: dict[str, object] = {
            "post_office_url": self.url(self.settings.post_office_port),
            "agency_url": self.url(self.settings.agency_port),
            "contact_token": contact_token,
            "smtp_host": self.settings.host,
            "smtp_port": self.settings.smtp_sink_port,
            "public_url": self.url(self.settings.notifications_port),
            "esms_base_url": providers,
            "esms_api_key": accounts.esms.api_key,
            "esms_secret_key": accounts.esms.secret_key,
            "esms_brandname": BRANDNAME,
            "esms_callback_secret": accounts.esms_callback_secret,
            "zalo_base_url": providers,
            "zalo_access_token": accounts.zalo.access_token,
            "zalo_templates": json.dumps(ZALO_TEMPLATES),
            "zalo_app_id": ZALO_APP_ID,
            "zalo_oa_secret_key": accounts.zalo_oa_secret_key,
            # The simulated agencies' one-stop desks, where the clock alerts go (offices, not people).
            "desk_emails": json.dumps(desks),
        }
        return {env_var(NotificationsSettings, field): str(value) for field, value in values.items()}

    async def _start_prometheus(self) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            self.say("no prometheus binary on PATH (scripts/setup.sh installs it); going on without it")
            self.prometheus = False
            return
        work = self.work / "prometheus"
        listen = f"{self.settings.host}:{self.settings.prometheus_port}"
        targets = {name: f"{self.settings.host}:{port}" for name, port in self.ports.items()}
        write_config(work, targets, listen=listen)
        child = prometheus_process(
            binary,
            work,
            host=self.settings.host,
            port=self.settings.prometheus_port,
            log_path=self.work / "logs" / "prometheus.log",
        )
        child.start()
        self.children.append(child)
        await child.wait_ready(self.settings.ready_timeout_s)
        self.say(f"Prometheus (pid {child.pid}) on http://{listen}, rules from deploy/prometheus/rules")

    async def _simulate(self, secret: str) -> None:
        endpoints = self.endpoints
        credentials = await issue_credentials(self.settings.database_url, secret)
        self.say(
            f"simulating a working day: {self.simulator.dossiers} dossiers through the public APIs "
            "(SIM_DOSSIERS or --dossiers to change; --no-simulator to skip)"
        )
        report = await simulate(self.simulator, endpoints, credentials, progress=TerminalBar("simulating"))
        self.say("waiting for the consumers to catch up and the clocks' metrics to refresh")
        lag = await settle(self.settings.kafka_bootstrap_servers, security=self.kafka_security(ADMIN))
        if any(lag.values()):
            self.say(f"consumers still behind after 2 min: {lag}")
        view = await collect(endpoints, credentials.operator)
        print("", *report.lines(), *render_store(view), sep="\n", file=self.out, flush=True)

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(
            post_office=self.url(self.settings.post_office_port),
            agency=self.url(self.settings.agency_port),
            tracker=self.url(self.settings.tracker_port),
            turnaround=self.url(self.settings.turnaround_port),
            kafka_bootstrap=self.settings.kafka_bootstrap_servers,
            kafka_security=self.kafka_security(SIMULATED_AGENCY_SYSTEMS),
        )

    def _relative(self, path: Path) -> str:
        with contextlib.suppress(ValueError):
            return str(path.relative_to(Path.cwd()))
        return str(path)

    def _print_urls(self) -> None:
        lines = ["", "Where to look"]
        titles = {
            "post_office": "Post office",
            "agency": "Agency",
            "tracker": "Tracker",
            "turnaround": "Turnaround",
            "notifications": "Notifications",
        }
        for name, port in self.ports.items():
            base = self.url(port)
            committed = ROOT / "contracts" / "openapi" / f"{name}.json"
            lines.append(
                f"  {titles[name]:<12} {base}/docs   OpenAPI {base}/openapi.json"
                + (f" (committed: contracts/openapi/{name}.json)" if committed.exists() else "")
                + f"   metrics {base}/metrics"
            )
        lines.append(
            "  AsyncAPI     contracts/asyncapi.yaml (topics, events; JSON Schemas in contracts/schemas/)"
        )
        if self.prometheus:
            lines.append(
                f"  Prometheus   http://{self.settings.host}:{self.settings.prometheus_port}"
                "   (alerts: /alerts, rules: deploy/prometheus/rules)"
            )
        lines.append(
            f"  Kafka        {self.settings.kafka_bootstrap_servers}   Database {self.settings.database_url}"
        )
        lines.extend(self.kafka_security_lines())
        lines.extend(self.message_lines())
        lines.append(f"  Logs         {self._relative(self.work / 'logs')}/<service>.log")
        print(*lines, sep="\n", file=self.out, flush=True)

    def message_lines(self) -> list[str]:
        """Where the notifications service's messages land (the local providers keep them, nothing is
        sent), and how many are there."""
        kept = {name: len(list((self.work / name).glob("*.*"))) for name in (MAIL_DIR, SMS_DIR, ZALO_DIR)}
        where = {name: self._relative(self.work / name) for name in kept}
        sms = f"{where[SMS_DIR]}/*.json ({kept[SMS_DIR]})"
        zalo = f"{where[ZALO_DIR]}/*.json ({kept[ZALO_DIR]})"
        return [
            f"  Messages     e-mails {where[MAIL_DIR]}/*.eml ({kept[MAIL_DIR]}; any mail client opens them), "
            f"SMS {sms}, Zalo {zalo};",
            "               nothing leaves this machine. SMS and Zalo wait from 21:00 to 07:00 Vietnam time "
            "(quiet hours), e-mail goes at once.",
        ]

    def kafka_security_lines(self) -> list[str]:
        """How the broker is secured and where its credentials are; never a password."""
        credentials = self.kafka_credentials
        if credentials is None:
            return ["  Kafka security  none: PLAINTEXT, anyone who reaches the port reads and writes"]
        ca = self.settings.kafka_ca_file
        return [
            "  Kafka security  SASL_SSL with SCRAM-SHA-512, the ACLs of deploy/kafka/acls.tsv "
            "(no ACL, no access);",
            "                  each service logs in as its own principal: "
            + ", ".join(f"{spec.name} as {spec.principal}" for spec in SERVICES)
            + f"; the simulator's agency systems as {SIMULATED_AGENCY_SYSTEMS}, the lag watch as {ADMIN}",
            f"                  passwords in {self._relative(credentials)}/<principal> (mode 600), "
            f"CA {self._relative(ca) if ca else 'the system CAs'}",
        ]

    async def _watch(self) -> str:
        """Returns the name of the first child that exits."""
        while True:
            for child in self.children:
                if not child.running():
                    return child.name
            await asyncio.sleep(1.0)

    async def _stop_children(self) -> None:
        for child in reversed(self.children):
            if child.process is None:
                continue
            status = await child.stop(self.settings.stop_timeout_s)
            # uvicorn re-raises the SIGTERM it handled once it has shut down: -15 is a clean stop too.
            how = "cleanly" if status in (0, -signal.SIGTERM) else f"with exit status {status}"
            self.say(f"stopped {child.name} {how}")
        self.children.clear()
