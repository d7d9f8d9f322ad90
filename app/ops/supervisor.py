"""`SENTIMENT_PROCESSES=N` (N > 1): N server processes accepting on one port.

The supervisor checks that the port is free, binds one listening socket per child on it with
SO_REUSEPORT and starts N children (`python -m app`), each inheriting its own socket and serving
on it beside a private Unix socket through which the children ask each other what spans the
service (app/ops/peers.py). With one socket per child the kernel spreads new connections evenly
over the children (by a hash of each connection's addresses); one socket shared by all hands
each connection to whichever child wakes first, and under wrk's 64 keep-alive connections that
split them 7:57, 12:52 and 8:56 between two children, one child idling beside a full one.
The children run in their own session, so a terminal's Ctrl-C reaches the supervisor only; it
passes every SIGTERM or SIGINT on as one SIGTERM to each child, which drains as a single process
does (`python -m app`). A child that exits while nobody asked it to takes the others down with
it and the supervisor exits with its status: an orchestrator restarts the whole service rather
than run it one process short. A child whose supervisor is gone (killed outright) stops by itself.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

from app.core.settings import Settings
from app.ops.logs import configure_logging
from app.ops.peers import PROCESS_ENV, Peers
from app.ops.shared_runs import RUNS_FD_ENV, create_run_slots

log = logging.getLogger("app.supervisor")
LISTEN_FD_ENV = "_SENTIMENT_LISTEN_FD"  # the inherited listening socket of a child
POLL_S = 0.1
BACKLOG = 2048  # uvicorn's default


def bind_listeners(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on one port, sharing it with SO_REUSEPORT (port 0: the port
    the first one was given)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listeners: list[socket.socket] = []
    for _ in range(count):
        listener = socket.create_server(
            (host, port), family=family, backlog=BACKLOG, reuse_port=True
        )
        listener.set_inheritable(True)
        port = listener.getsockname()[1]
        listeners.append(listener)
    return listeners


def require_free_port(host: str, port: int, what: str) -> None:
    """The children bind `port` with SO_REUSEPORT, which would share it silently with another
    server already listening there: check once, without it, that nobody is."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    # SO_REUSEADDR as every server sets it: connections of a server that just stopped (in
    # TIME_WAIT) do not hold the port, a listening socket still does
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, port))
    except OSError as exc:
        raise SystemExit(f"{what} port {port} on {host} is in use: {exc}") from exc
    finally:
        probe.close()


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.children: list[subprocess.Popen[bytes]] = []
        self.stopping = False

    def run(self) -> int:
        settings = self.settings
        if settings.grpc_enabled:
            require_free_port(settings.host, settings.grpc_port, "gRPC")
        if settings.port != 0:
            require_free_port(settings.host, settings.port, "HTTP")
        listeners = bind_listeners(settings.host, settings.port, settings.processes)
        port = listeners[0].getsockname()[1]
        name = f"sentiment-{os.getpid()}-{secrets.token_hex(4)}"  # the peer sockets' shared name
        runs_fd = create_run_slots(settings.processes)
        try:
            self.children = [
                self.spawn(Peers(i, settings.processes, name), listener, runs_fd)
                for i, listener in enumerate(listeners)
            ]
            for listener in listeners:
                listener.close()  # the children hold them now
            os.close(runs_fd)
            log.info(
                "started %d server processes on port %d",
                len(self.children),
                port,
                extra={"pids": [child.pid for child in self.children]},
            )
            signal.signal(signal.SIGTERM, self.on_signal)
            signal.signal(signal.SIGINT, self.on_signal)
            return self.wait()
        finally:
            self.stop_children()

    def spawn(self, peers: Peers, listener: socket.socket, runs_fd: int) -> subprocess.Popen[bytes]:
        """A child serving on `listener`, with the run counts every child shares (`runs_fd`)."""
        fd = listener.fileno()
        env = {
            **os.environ,
            PROCESS_ENV: peers.env_value(),
            LISTEN_FD_ENV: str(fd),
            RUNS_FD_ENV: str(runs_fd),
        }
        return subprocess.Popen(
            [sys.executable, "-m", "app"], env=env, pass_fds=(fd, runs_fd), start_new_session=True
        )

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        # a second signal is passed on too: each child then skips the rest of its drain
        self.stopping = True
        self.signal_children()

    def signal_children(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    def wait(self) -> int:
        """Until every child has exited: 0 when each exited 0 after being asked to stop."""
        status = 0
        running = set(range(len(self.children)))
        while running:
            for index in sorted(running):
                code = self.children[index].poll()
                if code is None:
                    continue
                running.discard(index)
                if not self.stopping:
                    log.error("server process %d exited with %d: stopping the others", index, code)
                    self.stopping = True
                    self.signal_children()
                    status = status or _exit_status(code, unexpected=True)
                else:
                    status = status or _exit_status(code, unexpected=False)
            time.sleep(POLL_S)
        return status

    def stop_children(self) -> None:
        """Whatever is still running when the supervisor leaves (an exception) is stopped."""
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + self.settings.graceful_timeout_s + self.settings.drain_seconds
        for child in self.children:
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()


def _exit_status(code: int, unexpected: bool) -> int:
    if code > 0:
        return code
    return 1 if unexpected or code < 0 else 0


def supervise(settings: Settings) -> int:
    configure_logging(settings.log_level, settings.json_logs)
    return Supervisor(settings).run()
