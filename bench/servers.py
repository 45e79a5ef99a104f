"""Loopback servers for the benches, each run as its own process (`python -m bench.servers`).

- `vendor`: the fault-injecting vendor simulator. Its behaviour in each window follows a
  ground-truth schedule of outage shapes (a JSON file: window start → shape). Every prober
  gets its own path prefix (`/sla/...`, `/bb/...`) and its own per-window request counter,
  so both probers see the same shape however their requests interleave.
- `fast`: a minimal HTTP/1.1 server (fixed JSON answer, then close) for the cost bench.
- `hostile`: one port per hostile behaviour (never answers, slowloris, 1 GB body, garbage
  instead of TLS, invalid JSON) plus a healthy endpoint.

They are raw asyncio protocols, not aiohttp, so that the server side costs little and can
reset a connection or stall exactly as told.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import socket
import struct
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

OK_BODY = b'{"status": "ok", "signature": "valid"}'
BAD_SIG_BODY = b'{"status": "ok", "signature": "invalid"}'
DOWN_BODY = b'{"status": "unavailable"}'

# shape → (what one request gets given its index i in the window): see Vendor.answer
SHAPES = {
    "healthy": "every request answered 200 with a valid signature",
    "whole": "every request answered 503 (a whole window down)",
    "first2": "the first 2 requests of the window fail (503), then healthy: partial window",
    "first6": "the first 6 requests fail, the last ones succeed: a mostly-down window",
    "single": "only the first request of the window fails: a single failed attempt",
    "flapping": "fail, fail, ok, fail, fail, ok, ...",
    "slow_under": "every answer delayed to 0.8 x timeout (ok, just in time)",
    "slow_over": "every answer delayed to 1.2 x timeout (too late)",
    "slow_mixed": "the first 5 answers delayed to 1.2 x timeout, the rest on time",
    "reset": "every connection reset (RST) instead of an answer",
    "bad_signature": "200 with a signature that fails verification",
    "vantage": "the prober's own network fails: the control endpoint and the service fail",
}

# expected verdict per down rule: (all, any, ratio>=0.5)
TRUTH: dict[str, tuple[str, str, str]] = {
    "healthy": ("up", "up", "up"),
    "whole": ("down", "down", "down"),
    "first2": ("up", "down", "up"),
    "first6": ("up", "down", "down"),
    "single": ("up", "down", "up"),
    "flapping": ("up", "down", "down"),
    "slow_under": ("up", "up", "up"),
    "slow_over": ("down", "down", "down"),
    "slow_mixed": ("up", "down", "down"),
    "reset": ("down", "down", "down"),
    "bad_signature": ("down", "down", "down"),
    "vantage": ("excluded", "excluded", "excluded"),
}


def response(status: int, body: bytes, reason: str = "") -> bytes:
    reason = reason or {200: "OK", 503: "Service Unavailable", 500: "Error"}.get(status, "X")
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


def reset(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class HttpProtocol(asyncio.Protocol):
    """Reads one request head, hands (path, headers, transport) to `handle`."""

    def __init__(self, handle: Callable[[str, bytes, asyncio.Transport], None]) -> None:
        self.handle = handle
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] - uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self.done:
            return
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > 65536:
                assert self.transport is not None
                self.transport.close()
            return
        self.done = True
        head = self.buffer[:end]
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        path = parts[1] if len(parts) > 1 else "/"
        assert self.transport is not None
        self.handle(path, head, self.transport)


def send(transport: asyncio.Transport, data: bytes) -> None:
    if not transport.is_closing():
        transport.write(data)
        transport.close()


class Vendor:
    def __init__(self, schedule: dict[int, str], window: int, timeout: float) -> None:
        self.schedule = schedule
        self.window = window
        self.timeout = timeout
        self.counters: dict[tuple[str, int], int] = {}
        self.log: list[tuple[str, float, str]] = []  # (prober, arrival, what)

    def shape(self, now: float) -> tuple[int, str]:
        w = int(now // self.window) * self.window
        return w, self.schedule.get(w, "healthy")

    def __call__(self, path: str, _head: bytes, transport: asyncio.Transport) -> None:
        now = time.time()
        loop = asyncio.get_running_loop()
        parts = path.strip("/").split("/")
        prober = parts[0] if parts else ""
        kind = parts[1] if len(parts) > 1 else ""
        w, shape = self.shape(now)
        if path == "/stats":
            send(transport, response(200, json.dumps(self.log).encode()))
            return
        if kind == "control":
            if shape == "vantage":
                reset(transport)
            else:
                send(transport, response(200, b"reachable\n"))
            return
        i = self.counters.get((prober, w), 0)
        self.counters[(prober, w)] = i + 1
        self.log.append((prober, now, shape))
        ok = response(200, OK_BODY)
        fail = response(503, DOWN_BODY)
        late = 1.2 * self.timeout
        if shape in ("whole", "vantage"):
            send(transport, fail)
        elif shape == "first2":
            send(transport, fail if i < 2 else ok)
        elif shape == "first6":
            send(transport, fail if i < 6 else ok)
        elif shape == "single":
            send(transport, fail if i == 0 else ok)
        elif shape == "flapping":
            send(transport, fail if i % 3 != 2 else ok)
        elif shape == "slow_under":
            loop.call_later(0.8 * self.timeout, send, transport, ok)
        elif shape == "slow_over":
            loop.call_later(late, send, transport, ok)
        elif shape == "slow_mixed":
            if i < 5:
                loop.call_later(late, send, transport, ok)
            else:
                send(transport, ok)
        elif shape == "reset":
            reset(transport)
        elif shape == "bad_signature":
            send(transport, response(200, BAD_SIG_BODY))
        else:
            send(transport, ok)


FAST_ANSWER = response(200, b'{"status": "ok"}')


def fast(_path: str, _head: bytes, transport: asyncio.Transport) -> None:
    transport.write(FAST_ANSWER)
    transport.close()


# -- hostile ------------------------------------------------------------------------------


class Silent(asyncio.Protocol):
    """Accepts and never answers (nor reads)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport


class Garbage(asyncio.Protocol):
    """Answers a TLS ClientHello with garbage bytes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, _data: bytes) -> None:
        self.transport.write(b"HTTP/1.1 200 OK\r\n\r\nthis is not TLS \x00\xff" * 20)


async def _slowloris(transport: asyncio.Transport) -> None:
    transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(1000):
        await asyncio.sleep(1.0)
        if transport.is_closing():
            return
        transport.write(b"x")
    transport.close()


class _Drain(asyncio.Protocol):
    def __init__(self, transport: asyncio.Transport) -> None:
        self.paused = asyncio.Event()
        self.paused.set()
        transport.set_protocol(self)

    def pause_writing(self) -> None:
        self.paused.clear()

    def resume_writing(self) -> None:
        self.paused.set()

    def connection_lost(self, _exc: Exception | None) -> None:
        self.paused.set()


async def _gigabyte(transport: asyncio.Transport) -> None:
    size = 1 << 30
    transport.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    f"Content-Length: {size}\r\n\r\n".encode())
    chunk = b"\0" * 65536
    flow = _Drain(transport)
    sent = 0
    while sent < size and not transport.is_closing():
        await flow.paused.wait()
        transport.write(chunk)
        sent += len(chunk)
    transport.close()


TASKS: set[asyncio.Task[None]] = set()


def _spawn_task(coro: Any) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    TASKS.add(task)
    task.add_done_callback(TASKS.discard)


def hostile_handler(kind: str) -> Callable[[str, bytes, asyncio.Transport], None]:
    def handle(_path: str, _head: bytes, transport: asyncio.Transport) -> None:
        if kind == "slowloris":
            _spawn_task(_slowloris(transport))
        elif kind == "gigabyte":
            _spawn_task(_gigabyte(transport))
        elif kind == "badjson":
            send(transport, response(200, b'{"status": "ok", "signature": valid!!'))
        else:
            send(transport, response(200, OK_BODY))
    return handle


def echo_forms(token: str) -> list[str]:
    """The token as a careless target echoes it: percent-encoded, JSON-escaped, base64(url)."""
    raw = token.encode()
    return [urllib.parse.quote(token, safe=""), urllib.parse.quote_plus(token),
            json.dumps(token)[1:-1], base64.b64encode(raw).decode(),
            base64.urlsafe_b64encode(raw).decode().rstrip("=")]


class Echo:
    """Hands the request's Authorization header back in every place a prober might copy
    it from: a JSON field it asserts on, an error body, a header, a redirect."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, path: str, head: bytes, transport: asyncio.Transport) -> None:
        token = ""
        for line in head.decode("latin-1").split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() in ("authorization", "x-api-key", "x-file-key"):
                token += value.strip()
                self.seen[key.strip().lower()] = self.seen.get(key.strip().lower(), 0) + 1
        if path == "/stats":
            send(transport, response(200, json.dumps(self.seen).encode()))
        elif path.startswith("/json"):
            send(transport, response(200, json.dumps(
                {"status": token, "encoded": echo_forms(token)}).encode()))
        elif path.startswith("/error"):
            send(transport, response(500, f"bad token {token} {echo_forms(token)}".encode()))
        elif path.startswith("/redirect"):
            quoted = urllib.parse.quote(token, safe="")
            send(transport, (f"HTTP/1.1 302 Found\r\nLocation: /x?t={quoted}\r\n"
                             f"X-Echo: {token}\r\nContent-Length: 0\r\n"
                             "Connection: close\r\n\r\n").encode())
        else:
            send(transport, response(200, OK_BODY))


HOSTILE_KINDS = ("healthy", "silent", "slowloris", "gigabyte", "garbage_tls", "badjson")


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    servers: list[asyncio.base_events.Server] = []
    if args.mode == "vendor":
        raw = json.loads(Path(args.schedule).read_text())  # noqa: ASYNC240 - once, at start
        vendor = Vendor({int(k): v for k, v in raw.items()}, args.window, args.timeout)
        servers.append(await loop.create_server(lambda: HttpProtocol(vendor), "127.0.0.1",
                                                args.port, backlog=1024))
    elif args.mode == "echo":
        echo = Echo()
        servers.append(await loop.create_server(lambda: HttpProtocol(echo), "127.0.0.1",
                                                args.port))
    elif args.mode == "fast":
        servers.append(await loop.create_server(lambda: HttpProtocol(fast), "127.0.0.1",
                                                args.port, backlog=4096, reuse_port=True))
    else:
        for offset, kind in enumerate(HOSTILE_KINDS):
            factory: Callable[[], asyncio.Protocol]
            if kind == "silent":
                factory = Silent
            elif kind == "garbage_tls":
                factory = Garbage
            else:
                handler = hostile_handler(kind)
                factory = lambda h=handler: HttpProtocol(h)  # noqa: E731
            servers.append(await loop.create_server(factory, "127.0.0.1", args.port + offset,
                                                    backlog=1024))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers")
    parser.add_argument("mode", choices=["vendor", "fast", "hostile", "echo"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--schedule", default="")
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=0.3)
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    if args.uvloop:
        import uvloop  # noqa: PLC0415

        uvloop.install()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
