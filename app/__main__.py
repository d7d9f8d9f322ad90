"""`python -m app`: run the service with uvicorn, shutting down gracefully on SIGTERM.

On the first SIGTERM (or Ctrl-C) readiness turns 503 at once while requests are still served for
`drain_seconds`, so load balancers stop sending traffic; then uvicorn stops accepting
connections, answers every in-flight and queued request, runs the app's shutdown (the batchers
drain) and the process exits 0. A second signal skips the rest of the drain period. If models
fail to load, the process exits 1 (the log names the file).

With `SENTIMENT_PROCESSES=N` (N > 1) this process is the supervisor of N such servers sharing the
port (app/ops/supervisor.py); each of them runs `serve` on the socket it inherits.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from types import FrameType

import uvicorn

from app.core.service import Service
from app.core.settings import Settings
from app.main import create_app
from app.ops.logs import flush_due_logs
from app.ops.peers import Peers
from app.ops.supervisor import LISTEN_FD_ENV, supervise

log = logging.getLogger("app.server")


class DrainingServer(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        service: Service,
        drain_seconds: float,
        supervisor_pid: int | None = None,
    ) -> None:
        super().__init__(config)
        self.service = service
        self.drain_seconds = drain_seconds
        self.supervisor_pid = supervisor_pid
        self.drain_until: float | None = None
        self.drain_logged = False
        self.exit_code = 0

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Runs as a signal handler: only set flags here; on_tick acts on them. Unlike the base
        # class, never record the signal: uvicorn would re-raise it at exit and the process
        # would die by SIGTERM instead of exiting 0.
        if self.drain_until is None and self.drain_seconds > 0:
            self.service.draining = True
            self.drain_until = time.monotonic() + self.drain_seconds
        elif self.should_exit:
            self.force_exit = True
        else:
            self.should_exit = True

    async def on_tick(self, counter: int) -> bool:
        flush_due_logs()
        if self.service.failure is not None:
            self.exit_code = 1
            return True
        if self.supervisor_pid is not None and os.getppid() != self.supervisor_pid:
            log.error("the supervisor is gone: stopping")
            self.supervisor_pid = None
            self.handle_exit(signal.SIGTERM, None)
        if self.drain_until is not None:
            if not self.drain_logged:
                self.drain_logged = True
                log.info(
                    "signal received: /ready answers 503, serving %.1f s more", self.drain_seconds
                )
            if time.monotonic() >= self.drain_until:
                log.info("drain period over: closing the listening socket")
                return True
        return await super().on_tick(counter)


# The Rust tokenizer's own thread pool (rayon) would parallelise each `encode_batch`: its idle
# threads spin, and beside two batch threads on 2 CPUs it cost more than it gave (IMDB at 64
# connections: 342 req/s without it, 270 with it, same run; docs/benchmarks.md). The batch
# threads already tokenize in parallel, each with the GIL released. Set it to "true" to restore.
TOKENIZER_THREADS_ENV = ("TOKENIZERS_PARALLELISM", "false")


def main() -> int:
    os.environ.setdefault(*TOKENIZER_THREADS_ENV)
    settings = Settings()
    peers = Peers.from_env()
    if settings.processes > 1 and peers is None:
        return supervise(settings)
    return serve(settings, peers)


def peer_sockets(peers: Peers) -> list[socket.socket]:
    """The listening socket inherited from the supervisor, and this process's own Unix socket."""
    shared = socket.socket(fileno=int(os.environ[LISTEN_FD_ENV]))
    private = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    private.bind(peers.address(peers.index))
    return [shared, private]


def serve(settings: Settings, peers: Peers | None) -> int:
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our JSON handler is already on the root logger
        access_log=False,  # the request middleware logs each request with its id and timings
        timeout_graceful_shutdown=int(settings.graceful_timeout_s),
        server_header=False,
    )
    if peers is None:
        server = DrainingServer(config, app.state.service, settings.drain_seconds)
        server.run()
    else:
        server = DrainingServer(config, app.state.service, settings.drain_seconds, os.getppid())
        server.run(sockets=peer_sockets(peers))
    return server.exit_code


if __name__ == "__main__":
    sys.exit(main())
