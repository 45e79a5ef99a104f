"""A small sd_notify(3) client: readiness, status and watchdog pings to systemd.

Outside systemd (`NOTIFY_SOCKET` unset) every method is a no-op that returns False, so the
daemon calls it unconditionally. The socket may be a path or an abstract socket (`@name`).
Sending never blocks and never raises: a lost notification must not stop the prober.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Hashable, Mapping


class SdNotifier:
    """Sends `KEY=VALUE` datagrams to the socket systemd named in `NOTIFY_SOCKET`."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._environ = env
        self._address = self._parse_address(env.get("NOTIFY_SOCKET", ""))
        self._sock: socket.socket | None = None

    @staticmethod
    def _parse_address(value: str) -> str | bytes | None:
        if not value:
            return None
        if value.startswith("@"):
            return b"\0" + value[1:].encode()
        if value.startswith("/"):
            return value
        return None  # systemd only hands out absolute or abstract names (vsock is not ours)

    @property
    def enabled(self) -> bool:
        """Whether a notification socket was given (i.e. we run under systemd Type=notify)."""
        return self._address is not None

    def notify(self, *fields: str) -> bool:
        """Send one datagram of newline-joined `fields`; True when it was handed to the kernel."""
        if self._address is None:
            return False
        payload = "\n".join(fields).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto(payload, self._address)
        except OSError:
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        fields = ["READY=1"]
        if status is not None:
            fields.append(f"STATUS={_one_line(status)}")
        return self.notify(*fields)

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def reloading(self) -> bool:
        """Announce a reload (send `ready()` when done). Newer systemd wants a timestamp."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def watchdog_interval(self) -> float | None:
        """The watchdog timeout in seconds if systemd expects pings from this process.

        Ping at half of it. None when `WATCHDOG_USEC` is unset or invalid, or when
        `WATCHDOG_PID` names another process.
        """
        raw = self._environ.get("WATCHDOG_USEC", "")
        try:
            usec = int(raw)
        except ValueError:
            return None
        if usec <= 0:
            return None
        pid = self._environ.get("WATCHDOG_PID")
        if pid:
            try:
                if int(pid) != os.getpid():
                    return None
            except ValueError:
                return None
        return usec / 1_000_000

    async def keep_alive(self, progress: Callable[[], Hashable], stop: asyncio.Event) -> None:
        """Ping the watchdog at half its interval, but only while `progress()` changes.

        `progress` is e.g. the scheduler's tick count: a loop that is alive but no longer
        makes progress stops pinging, and systemd restarts the service. Returns at once when
        no watchdog is expected, else when `stop` is set.
        """
        interval = self.watchdog_interval()
        if interval is None or not self.enabled:
            return
        last = progress()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), interval / 2)
            except TimeoutError:
                pass
            else:
                return
            current = progress()
            if current != last:
                self.watchdog()
                last = current

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _one_line(text: str) -> str:
    return " ".join(text.split())
