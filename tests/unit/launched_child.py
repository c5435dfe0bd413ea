"""A stand-in for a service, started by tests/unit/test_launcher.py through the launcher.

    python launched_child.py PORT [--ready-when FILE] [--exit CODE] [--on-term flush FILE | ignore]

It serves GET /ready on 127.0.0.1:PORT: 200 once FILE exists (at once without --ready-when), else 503.
--exit CODE: says why on stderr and exits with CODE before listening (a service that cannot start).
--on-term flush FILE: on SIGTERM writes "flushed" to FILE and exits 0 (an orderly shutdown);
--on-term ignore: ignores SIGTERM (a hung shutdown). Its own pid is logged at start.
"""

from __future__ import annotations

import argparse
import http.server
import os
import signal
import sys
from pathlib import Path
from types import FrameType


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--ready-when", type=Path)
    parser.add_argument("--exit", type=int)
    parser.add_argument("--on-term", nargs="+", default=[])
    args = parser.parse_args()
    print(f"child pid {os.getpid()} starting", flush=True)
    if args.exit is not None:
        print("giving up: the database refused the connection", file=sys.stderr, flush=True)
        raise SystemExit(args.exit)
    if args.on_term[:1] == ["ignore"]:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    elif args.on_term[:1] == ["flush"]:
        flushed = Path(args.on_term[1])

        def flush(signum: int, frame: FrameType | None) -> None:
            flushed.write_text("flushed")
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, flush)
    ready_when: Path | None = args.ready_when

    class Ready(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ready = ready_when is None or ready_when.exists()
            self.send_response(200 if self.path == "/ready" and ready else 503)
            self.end_headers()

        def log_message(self, format: str, *values: object) -> None:
            print(f"GET {self.path} -> {values[1] if len(values) > 1 else '?'}", flush=True)

    with http.server.HTTPServer(("127.0.0.1", args.port), Ready) as server:
        server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
