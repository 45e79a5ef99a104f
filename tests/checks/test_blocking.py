"""`DaemonThreadExecutor`: one daemon thread, cancelled queued calls skipped."""

from __future__ import annotations

import asyncio
import threading

import pytest

from checks.blocking import DaemonThreadExecutor


class TestDaemonThreadExecutor:
    def test_runs_calls_in_order_on_one_daemon_thread(self) -> None:
        executor = DaemonThreadExecutor("t")
        seen: list[tuple[int, str, bool]] = []

        def record(n: int) -> int:
            thread = threading.current_thread()
            seen.append((n, thread.name, thread.daemon))
            return n * 2

        futures = [executor.submit(record, n) for n in range(5)]
        assert [f.result(5) for f in futures] == [0, 2, 4, 6, 8]
        assert [s[0] for s in seen] == [0, 1, 2, 3, 4]
        assert {(s[1], s[2]) for s in seen} == {("t", True)}
        executor.shutdown()

    def test_exception_reaches_the_caller(self) -> None:
        executor = DaemonThreadExecutor("t")

        def boom() -> None:
            raise KeyError("x")

        with pytest.raises(KeyError):
            executor.submit(boom).result(5)
        executor.shutdown()

    def test_cancelled_queued_call_never_runs(self) -> None:
        executor = DaemonThreadExecutor("t")
        gate = threading.Event()
        ran: list[str] = []
        blocker = executor.submit(gate.wait, 5)
        queued = executor.submit(ran.append, "queued")
        assert queued.cancel()
        after = executor.submit(ran.append, "after")
        gate.set()
        assert blocker.result(5) is True
        after.result(5)
        assert ran == ["after"]
        executor.shutdown()

    def test_shutdown_does_not_wait_for_a_hung_call(self) -> None:
        executor = DaemonThreadExecutor("t")
        gate = threading.Event()
        executor.submit(gate.wait, 30)
        queued = executor.submit(lambda: None)
        executor.shutdown(wait=False, cancel_futures=True)
        assert queued.cancelled()
        with pytest.raises(RuntimeError, match="after shutdown"):
            executor.submit(lambda: None)
        gate.set()

    async def test_awaiting_coroutine_cancelled_while_queued_drops_the_call(self) -> None:
        executor = DaemonThreadExecutor("t")
        gate = threading.Event()
        ran: list[int] = []
        loop = asyncio.get_running_loop()
        first = loop.run_in_executor(executor, gate.wait, 5)
        second = loop.run_in_executor(executor, ran.append, 1)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(second, 0.05)
        gate.set()
        assert await first is True
        await loop.run_in_executor(executor, ran.append, 2)
        assert ran == [2]
        executor.shutdown()
