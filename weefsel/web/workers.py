"""CPU-heavy work of web requests (draws, elections, PDFs) off the event loop.

Why processes: a burgerberaad draw or an Equal Shares election is pure Python/solver work;
in a thread it would hold the GIL and stall every other request (a 47 s draw once made a
3 ms profile take 45 s). A small process pool runs it instead, behind a bounded queue:

* at most ``workers`` jobs run at once and ``queue`` more wait; a request beyond that gets
  HTTP 503 with ``Retry-After`` and the Dutch line "Bezig met ander rekenwerk; probeer het
  over N s opnieuw." (N from the recent job durations);
* every job has a time limit; a job past it is stopped (its worker process is killed and
  replaced) and the request answers 503 saying so.

``await run_cpu(fn, *args)`` from an ``async def`` route; ``fn`` and its arguments and result
must be picklable (module-level functions, plain data).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

from fastapi import HTTPException

log = logging.getLogger(__name__)

#: modules the fork server imports once, so each job starts without import time
PRELOAD = ["weefsel.participation.sortition.select", "weefsel.participation.budgeting.rules"]


class Busy(HTTPException):
    """503 + Retry-After: the pool and its queue are full (or a job ran out of time)."""

    def __init__(self, detail: str, retry_after: int | None):
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        super().__init__(503, detail, headers=headers)


class WorkerPool:
    """A bounded process pool with a queue limit and per-job time limits."""

    def __init__(self, workers: int | None = None, queue: int | None = None,
                 timeout: float | None = None):
        env = os.environ.get
        self.workers = workers or int(env("WEEFSEL_WORKERS", "0")) or max(1, (os.cpu_count() or 2) // 2)
        self.queue = queue if queue is not None else int(env("WEEFSEL_WORKER_QUEUE", "2"))
        self.timeout = timeout or float(env("WEEFSEL_WORKER_TIMEOUT", "120"))
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._durations: deque[float] = deque(maxlen=20)

    # -- pool ----------------------------------------------------------------------------
    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                try:
                    ctx = multiprocessing.get_context("forkserver")
                    ctx.set_forkserver_preload(PRELOAD)
                except ValueError:  # platforms without fork server
                    ctx = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx,
                                                 initializer=_watch_parent,
                                                 initargs=(os.getpid(),))
            return self._pool

    def _reset(self) -> None:
        """Kill the workers (a job past its time limit cannot be cancelled otherwise)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        for proc in list(getattr(pool, "_processes", {}).values()):
            try:
                proc.kill()
            except Exception:  # already gone
                pass
        pool.shutdown(wait=False, cancel_futures=True)

    def warm(self) -> None:
        """Start the fork server and the workers now (blocking; call from a thread), so the
        first request of a draw does not wait for them while holding up others."""
        try:
            for f in [self._executor().submit(_noop) for _ in range(self.workers)]:
                f.result(timeout=120)
        except Exception as exc:  # warming is an optimisation only
            log.warning("worker pool not warmed: %s", exc)

    def shutdown(self) -> None:
        """Stop the workers (serve calls this on the way out)."""
        self._reset()  # the fork server itself ends with this process

    # -- jobs ----------------------------------------------------------------------------
    def retry_after(self) -> int:
        """Seconds until a slot is likely free: recent mean duration × jobs ahead."""
        mean = sum(self._durations) / len(self._durations) if self._durations else 5.0
        ahead = max(1, self._pending - self.workers + 1)
        return max(1, min(600, int(mean * ahead / self.workers + 0.999)))

    async def run(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """Run ``fn(*args)`` in a worker process; Busy (503) when full or too slow."""
        limit = timeout or self.timeout
        if self._pending >= self.workers + self.queue:
            n = self.retry_after()
            raise Busy(f"Bezig met ander rekenwerk; probeer het over {n} s opnieuw.", n)
        self._pending += 1
        t0 = time.monotonic()
        try:
            future = self._executor().submit(fn, *args)
            try:
                result = await asyncio.wait_for(asyncio.wrap_future(future), limit)
            except asyncio.TimeoutError:
                log.warning("job %s stopped after %.0f s", getattr(fn, "__name__", fn), limit)
                self._reset()
                raise Busy(f"Dit rekenwerk duurde langer dan {limit:.0f} s en is gestopt; "
                           "maak de opdracht kleiner of gebruik de opdrachtregel.", None) from None
            except BrokenProcessPool:
                self._reset()
                n = self.retry_after()
                raise Busy(f"Het rekenwerk werd onderbroken; probeer het over {n} s opnieuw.",
                           n) from None
            self._durations.append(time.monotonic() - t0)
            return result
        finally:
            self._pending -= 1


def _noop() -> None:
    return None


def _watch_parent(server_pid: int) -> None:
    """In each worker: exit when the server process is gone (even after SIGKILL), so no
    worker outlives the server that started it."""
    def gone() -> bool:
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        try:  # a dead server not yet reaped by its parent is a zombie: gone as well
            with open(f"/proc/{server_pid}/stat", "rb") as fh:
                return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
        except OSError:
            return False

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if gone():
                os._exit(0)
    threading.Thread(target=watch, daemon=True, name="weefsel-parent-watch").start()


_pool: WorkerPool | None = None


def pool() -> WorkerPool:
    """The process-wide pool (one per server process)."""
    global _pool
    if _pool is None:
        _pool = WorkerPool()
    return _pool


def set_pool(p: WorkerPool | None) -> None:
    """Use another pool (tests: a small queue or a short time limit)."""
    global _pool
    if _pool is not None and _pool is not p:
        _pool.shutdown()
    _pool = p


async def run_cpu(fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
    """``await run_cpu(fn, *args)``: CPU work in the bounded process pool (see module doc)."""
    return await pool().run(fn, *args, timeout=timeout)
