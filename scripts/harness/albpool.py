"""The two things an ALB does with its pooled target connections that HAProxy does not, as a TCP relay
between HAProxy and one instance.

1. Idle limit: a connection idle for the ALB's idle timeout is closed from the balancer's side. (HAProxy
   purges idle server connections by pool statistics, not by age.)
2. A close by the target goes unnoticed until the balancer sends the next request on that connection, which
   then fails (HAProxy answers 502, as an ALB does). HAProxy itself watches its idle connections and drops one
   the moment the server closes it, so behind plain HAProxy a too-short keep-alive on the service would only
   fail in the rare exact race that an ALB, at scale, hits every day. Making every such close count turns
   that race into a deterministic failure, which is what a check needs.

A close while a request is outstanding is passed on at once: that is a real failure, not the idle race.
"""

import asyncio
import threading
import time
from dataclasses import dataclass, field

from harness import net

# A request sent on a connection idle this long would have found it closed by a service whose header-read timer
# (10 s) also ran on idle connections, as this one's once did.
OLD_IDLE_LIMIT_S = 10


@dataclass
class PoolStats:
    connections: int = 0
    closed_by_target: int = 0
    closed_idle: int = 0
    # Requests the balancer sent on a connection the target had closed: each one fails.
    sent_on_closed: int = 0
    # Idle seconds before each request on a reused connection.
    reuse_gaps: list[float] = field(default_factory=list)

    def reused_after(self, seconds: float) -> int:
        return sum(1 for gap in self.reuse_gaps if gap > seconds)


@dataclass
class _Connection:
    last: float = field(default_factory=time.monotonic)
    requests: int = 0
    outstanding: bool = False
    target_closed: bool = False
    abort: bool = False


class AlbConnectionModel:
    """A relay on 127.0.0.1:port (a free one) to the target on TARGET_PORT, run by a thread of its own."""

    def __init__(self, target_port: int, idle_s: float) -> None:
        self.target_port, self.idle_s = target_port, idle_s
        self.port = net.free_port()
        self.stats = PoolStats()
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the ALB connection model did not start")

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._relay, "127.0.0.1", self.port))
        ready.set()
        self._loop.run_forever()
        server.close()

    def stop(self) -> None:
        # Relays still open end here, not at garbage collection (which would warn about pending tasks).
        async def cancel_relays() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_relays(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _relay(self, proxy_reader: asyncio.StreamReader, proxy_writer: asyncio.StreamWriter) -> None:
        # asyncio's server callback asks a cancelled relay for its exception and prints a traceback, so a
        # relay cancelled by stop() ends normally instead.
        try:
            await self._relay_connection(proxy_reader, proxy_writer)
        except asyncio.CancelledError:
            proxy_writer.transport.abort()

    async def _relay_connection(self, proxy_reader: asyncio.StreamReader, proxy_writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        try:
            target_reader, target_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            proxy_writer.close()
            return
        conn = _Connection()
        requests = asyncio.ensure_future(self._requests(proxy_reader, target_writer, conn))
        responses = asyncio.ensure_future(self._responses(target_reader, proxy_writer, conn))
        idle = asyncio.ensure_future(self._idle_limit(conn))
        await asyncio.wait({requests, idle}, return_when=asyncio.FIRST_COMPLETED)
        for task in (requests, responses, idle):
            task.cancel()
        await asyncio.gather(requests, responses, idle, return_exceptions=True)
        target_writer.close()
        if conn.abort:
            proxy_writer.transport.abort()  # a reset, as a closed target answers a request
        else:
            proxy_writer.close()

    async def _requests(
        self, proxy_reader: asyncio.StreamReader, target_writer: asyncio.StreamWriter, conn: _Connection
    ) -> None:
        """Balancer to target, until the balancer closes (or sends a request the closed target cannot take)."""
        while data := await _read(proxy_reader):
            if conn.target_closed:
                self.stats.sent_on_closed += 1
                conn.abort = True
                return
            if not conn.outstanding:
                if conn.requests:
                    self.stats.reuse_gaps.append(time.monotonic() - conn.last)
                conn.requests += 1
                conn.outstanding = True
            conn.last = time.monotonic()
            target_writer.write(data)
            await target_writer.drain()

    async def _responses(
        self, target_reader: asyncio.StreamReader, proxy_writer: asyncio.StreamWriter, conn: _Connection
    ) -> None:
        while data := await _read(target_reader):
            conn.outstanding = False
            conn.last = time.monotonic()
            proxy_writer.write(data)
            await proxy_writer.drain()
        self.stats.closed_by_target += 1
        conn.target_closed = True
        if conn.outstanding:
            proxy_writer.close()

    async def _idle_limit(self, conn: _Connection) -> None:
        while (left := conn.last + self.idle_s - time.monotonic()) > 0 or conn.outstanding:
            await asyncio.sleep(max(left, 0.1))
        self.stats.closed_idle += 1


async def _read(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.read(65536)
    except ConnectionError:
        return b""
