"""A real Mosquitto on loopback and a cluster of real daemons (one per vantage) around it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import getpass
import signal
import socket
import subprocess
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from probe.config import parse_config
from probe.daemon import Daemon
from probe.model import WindowVerdict
from probe.quorum.codec import Vote
from probe.store import LEDGER_FILE, Ledger
from probe.store import quorum as store
from tests.conftest import free_port
from tests.realtools import require_tool


def raw_private(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption())).decode()


def raw_public(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


class Broker:
    """One Mosquitto process on a fixed loopback port; can be killed and started again."""

    def __init__(self, binary: str, workdir: Path,
                 settings: str = "allow_anonymous true\n") -> None:
        self.binary = binary
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"user {getpass.getuser()}\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n"
            f"listener {self.port} 127.0.0.1\n{settings}")
        self.log = workdir / "mosquitto.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([self.binary, "-c", str(self.conf)],
                                            stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                # While the broker was down, a client's reconnect may hold the port as its
                # own ephemeral local port for a moment: try again (seen once in CI).
                if "Address already in use" in self.log.read_text() and \
                        time.monotonic() + 1 < deadline:
                    time.sleep(0.2)
                    with self.log.open("ab") as log:
                        self.process = subprocess.Popen(
                            [self.binary, "-c", str(self.conf)],
                            stdout=subprocess.DEVNULL, stderr=log)
                    continue
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()}")
            with socket.socket() as sock:
                sock.settimeout(0.2)
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen in time")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    """A running Mosquitto (`listener PORT 127.0.0.1`, anonymous), stopped afterwards."""
    broker = Broker(require_tool("mosquitto"), tmp_path)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@dataclass
class Vantage:
    name: str
    key: Ed25519PrivateKey
    state_dir: Path
    daemon: Daemon | None = None
    task: asyncio.Task[int] | None = None

    def reader_windows(self, contract: str, scope: str) -> dict[int, WindowVerdict]:
        if not (self.state_dir / LEDGER_FILE).exists():
            return {}
        reader = Ledger.reader(self.state_dir)
        try:
            return {v.window_start: v for v in reader.windows(contract, 0, 2**40, scope)}
        except Exception:  # not migrated yet
            return {}
        finally:
            reader.close()

    def verdicts(self, contract: str, scope: str = "quorum") -> dict[int, str]:
        return {ws: v.verdict.value + (f":{v.reason.value}" if v.reason else "")
                for ws, v in self.reader_windows(contract, scope).items()}

    def votes(self, contract: str) -> dict[tuple[int, str], dict[str, Vote]]:
        reader = Ledger.reader(self.state_dir)
        try:
            return reader.read(lambda c: store.votes_between(c, contract, 0, 2**40))
        finally:
            reader.close()

    def vote_updates(self) -> int:
        reader = Ledger.reader(self.state_dir)
        try:
            return int(reader.read(
                lambda c: c.execute("SELECT COALESCE(SUM(updates), 0) FROM quorum_votes"
                                    ).fetchone()[0]))
        finally:
            reader.close()


@dataclass
class Cluster:
    """Three vantages (a, b, c) with their keys; `config` builds each one's YAML."""

    tmp: Path
    broker: Broker
    vantages: dict[str, Vantage] = field(default_factory=dict)

    @classmethod
    def make(cls, tmp: Path, broker: Broker, names: tuple[str, ...] = ("a", "b", "c")
             ) -> Cluster:
        cluster = cls(tmp, broker)
        for name in names:
            state = tmp / f"state-{name}"
            state.mkdir()
            cluster.vantages[name] = Vantage(name, Ed25519PrivateKey.generate(), state)
        return cluster

    def config(self, name: str, *, target: str, control: str, window: int, rule: str = "majority",
               grace: str = "1500ms", extra: str = "") -> str:
        me = self.vantages[name]
        peers = "\n".join(f"        {n}: {raw_public(v.key)}"
                          for n, v in self.vantages.items() if n != name)
        return textwrap.dedent(f"""\
            probe: {{vantage: {name}, state_dir: "{me.state_dir}", listen: "127.0.0.1:0",
                     grace: 200ms, shutdown_grace: 1s, jitter: 0.05}}
            services:
              - name: api
                checks:
                  - {{name: health, type: http, url: "{target}", interval: 200ms, timeout: 150ms}}
            controls:
              - {{name: reach, type: http, url: "{control}", interval: 200ms, timeout: 150ms}}
            contracts:
              - {{name: vendor, window: {window}s, down_rule: all,
                 objectives: [{{service: api, target: 99.9}}]}}
            quorum:
              broker: {{host: 127.0.0.1, port: {self.broker.port}, reconnect_min: 200ms,
                        reconnect_max: 1s, timeout: 3s}}
              signing_key: {raw_private(me.key)}
              rule: {rule}
              grace: {grace}
              peers:
            """) + peers + "\n" + extra

    async def start(self, name: str, text: str) -> Daemon:
        vantage = self.vantages[name]
        daemon = Daemon(parse_config(text), install_signals=False)
        vantage.daemon = daemon
        vantage.task = asyncio.create_task(daemon.serve(), name=f"daemon-{name}")
        await asyncio.wait_for(daemon.started.wait(), 10)
        return daemon

    async def stop(self) -> None:
        for vantage in self.vantages.values():
            if vantage.daemon is not None:
                vantage.daemon.request_stop()
        for vantage in self.vantages.values():
            if vantage.task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(vantage.task, 15)
                vantage.task = None


@pytest.fixture
async def cluster(tmp_path: Path, mosquitto: Broker) -> AsyncIterator[Cluster]:
    made = Cluster.make(tmp_path, mosquitto)
    try:
        yield made
    finally:
        await made.stop()
