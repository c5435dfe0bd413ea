"""A small HTTP/1.1 client on asyncio streams with keep-alive connections, for the load generator.

A load generator must cost little CPU next to the service it measures on a two-core machine; a
general-purpose client spends more per request than the few lines a JSON API over keep-alive
connections needs. It speaks to one host, sends Content-Length bodies and reads Content-Length or
chunked answers.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any


class HttpError(Exception):
    pass


# Servers close idle keep-alive connections (uvicorn after 5 s); older idle ones are not reused.
IDLE_S = 3.0


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def close(self) -> None:
        self.writer.close()


class Client:
    """Requests to one host; connections are kept open and reused, opened as concurrency needs them."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self.host = host
        self.port = port
        self._idle: list[_Connection] = []
        self._headers = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())

    async def _connection(self, reuse: bool = True) -> _Connection:
        now = time.monotonic()
        while reuse and self._idle:
            connection = self._idle.pop()
            if now - connection.idle_since < IDLE_S:
                return connection
            connection.close()
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=2**22)
        return _Connection(reader, writer)

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """(status, body) of one request; the connection goes back to the pool if it stays open."""
        payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self._headers}{extra}"
            f"Content-Length: {len(payload)}\r\n"
            + ("Content-Type: application/json\r\n" if body is not None else "")
            + "\r\n"
        ).encode()
        for attempt in (1, 2):
            connection = await self._connection(reuse=attempt == 1)
            try:
                connection.writer.write(head + payload)
                status, answer, keep = await self._read(connection.reader)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                connection.close()
                # A kept-alive connection the server closed meanwhile: once more on a new one.
                if attempt == 2:
                    raise HttpError(f"{method} {path}: {type(exc).__name__}") from exc
                continue
            if keep:
                connection.idle_since = time.monotonic()
                self._idle.append(connection)
            else:
                connection.close()
            return status, answer
        raise AssertionError("unreachable")

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
        if "content-length" in fields:
            body = await reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                parts.append(await reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(part[:-2] for part in parts)
        else:
            body = b""
        return status, body, fields.get("connection", "").lower() != "close"

    async def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
