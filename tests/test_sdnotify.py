from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.sdnotify import SdNotifier


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(2)
    yield sock, address
    sock.close()


@pytest.fixture
def abstract_socket() -> Iterator[tuple[socket.socket, str]]:
    name = f"sla-probe-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2)
    yield sock, "@" + name
    sock.close()


class TestSdNotifierOutsideSystemd:
    def test_every_method_is_a_no_op_without_notify_socket(self) -> None:
        notifier = SdNotifier({})
        assert not notifier.enabled
        assert notifier.ready() is False
        assert notifier.status("x") is False
        assert notifier.watchdog() is False
        assert notifier.stopping() is False
        assert notifier.reloading() is False

    def test_relative_socket_names_are_ignored(self) -> None:
        assert not SdNotifier({"NOTIFY_SOCKET": "relative.sock"}).enabled

    def test_unreachable_socket_reports_false_instead_of_raising(self, tmp_path: Path) -> None:
        notifier = SdNotifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
        assert notifier.enabled
        assert notifier.ready() is False
        notifier.close()


class TestSdNotifierMessages:
    def test_ready_reaches_a_path_socket(self, path_socket: tuple[socket.socket, str]) -> None:
        sock, address = path_socket
        notifier = SdNotifier({"NOTIFY_SOCKET": address})
        assert notifier.ready(status="ledger open,\nscheduler ticking")
        assert sock.recv(4096) == b"READY=1\nSTATUS=ledger open, scheduler ticking"
        notifier.close()

    def test_abstract_socket_names_start_with_at(
        self, abstract_socket: tuple[socket.socket, str]
    ) -> None:
        sock, address = abstract_socket
        notifier = SdNotifier({"NOTIFY_SOCKET": address})
        assert notifier.watchdog()
        assert sock.recv(4096) == b"WATCHDOG=1"
        notifier.close()

    def test_status_stopping_and_reloading_send_their_fields(
        self, path_socket: tuple[socket.socket, str]
    ) -> None:
        sock, address = path_socket
        notifier = SdNotifier({"NOTIFY_SOCKET": address})
        assert notifier.status("3 services, 0 down")
        assert notifier.stopping()
        assert notifier.reloading()
        assert sock.recv(4096) == b"STATUS=3 services, 0 down"
        assert sock.recv(4096) == b"STOPPING=1"
        reload_fields = sock.recv(4096).decode().split("\n")
        assert reload_fields[0] == "RELOADING=1"
        assert reload_fields[1].startswith("MONOTONIC_USEC=")
        assert int(reload_fields[1].partition("=")[2]) > 0
        notifier.close()


class TestSdNotifierWatchdogInterval:
    def test_interval_in_seconds_from_watchdog_usec(self) -> None:
        assert SdNotifier({"WATCHDOG_USEC": "30000000"}).watchdog_interval() == 30.0

    def test_interval_applies_when_pid_is_ours(self) -> None:
        env = {"WATCHDOG_USEC": "500000", "WATCHDOG_PID": str(os.getpid())}
        assert SdNotifier(env).watchdog_interval() == 0.5

    def test_no_interval_when_pid_is_another_process(self) -> None:
        env = {"WATCHDOG_USEC": "500000", "WATCHDOG_PID": str(os.getpid() + 1)}
        assert SdNotifier(env).watchdog_interval() is None

    @pytest.mark.parametrize("value", ["", "0", "-5", "soon"])
    def test_no_interval_when_usec_is_missing_or_invalid(self, value: str) -> None:
        assert SdNotifier({"WATCHDOG_USEC": value}).watchdog_interval() is None


class TestSdNotifierKeepAlive:
    async def test_pings_while_progress_changes_and_stops_when_it_does_not(
        self, path_socket: tuple[socket.socket, str]
    ) -> None:
        sock, address = path_socket
        sock.setblocking(False)
        ticks = [0]
        notifier = SdNotifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000"})
        stop = asyncio.Event()
        task = asyncio.create_task(notifier.keep_alive(lambda: ticks[0], stop))
        for _ in range(4):
            ticks[0] += 1
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.15)  # one more check may still see the last tick
        progressing = drain(sock)
        await asyncio.sleep(0.4)  # stuck: no new ticks for two watchdog intervals
        stuck = drain(sock)
        stop.set()
        await asyncio.wait_for(task, 2)
        notifier.close()
        assert progressing.count(b"WATCHDOG=1") >= 2
        assert stuck == []

    async def test_returns_at_once_without_a_watchdog(
        self, path_socket: tuple[socket.socket, str]
    ) -> None:
        _, address = path_socket
        notifier = SdNotifier({"NOTIFY_SOCKET": address})
        await asyncio.wait_for(notifier.keep_alive(lambda: 0, asyncio.Event()), 1)


def drain(sock: socket.socket) -> list[bytes]:
    out: list[bytes] = []
    while True:
        try:
            out.append(sock.recv(4096))
        except BlockingIOError:
            return out
