"""`python -m services.stack.sinks`: the local SMTP server, eSMS and Zalo ZNS in one process, keeping
each message under the work directory (mail/*.eml, sms/*.json, zalo/*.json). The local run's supervisor
starts it; ready once http://<host>:<http-port>/health answers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

import httpx
import uvicorn
from aiosmtpd.smtp import SMTP

from services.shared.logs import configure
from services.stack.sinks.accounts import local_accounts
from services.stack.sinks.files import MAIL_DIR, SMS_DIR, ZALO_DIR, Drop
from services.stack.sinks.mail import MailDrop
from services.stack.sinks.web import Drops, sinks_app


async def serve(args: argparse.Namespace) -> None:
    work: Path = args.work_dir
    loop = asyncio.get_running_loop()
    mail = MailDrop(Drop(work / MAIL_DIR, ".eml"))
    smtp = await loop.create_server(lambda: SMTP(mail, hostname=args.host), args.host, args.smtp_port)
    async with httpx.AsyncClient(timeout=10.0) as http:
        app = sinks_app(
            local_accounts(work),
            Drops(sms=Drop(work / SMS_DIR, ".json"), zalo=Drop(work / ZALO_DIR, ".json")),
            http,
            zalo_webhook_url=args.zalo_webhook_url or None,
        )
        server = uvicorn.Server(
            uvicorn.Config(app, host=args.host, port=args.http_port, log_level="warning", lifespan="off")
        )
        try:
            # Until SIGTERM or SIGINT: uvicorn stops serving, then re-raises the signal (the process
            # ends with it, as every service of the local run does).
            await server.serve()
        finally:
            smtp.close()
            with contextlib.suppress(Exception):
                await smtp.wait_closed()


def main(argv: list[str] | None = None) -> None:
    summary = __doc__.splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m services.stack.sinks", description=summary)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=2525)
    parser.add_argument("--http-port", type=int, default=8006, help="eSMS's and Zalo's send calls, /health")
    parser.add_argument("--work-dir", type=Path, default=Path(".work"))
    parser.add_argument("--zalo-webhook-url", default="", help="where Zalo's delivery events go (none: none)")
    args = parser.parse_args(argv)
    configure("INFO")
    # aiosmtpd logs every command of a session at INFO, the recipients' addresses among them, and httpx
    # every URL it calls, eSMS's reports with their `phonenumber` among them.
    for chatty in ("mail.log", "httpx"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
