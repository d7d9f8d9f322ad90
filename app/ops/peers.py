"""The other server processes of one service (`SENTIMENT_PROCESSES` > 1, app/ops/supervisor.py).

Every process accepts on the port (a listening socket each, SO_REUSEPORT), so a connection
reaches one of them by the kernel's hash. What must hold for the whole service is asked of every
process over a private Unix socket each (Linux's abstract namespace: no file, so a read-only
root file system is no obstacle; every route keeps its keys there too): readiness (ready only
when every process is, on HTTP and in gRPC health), metrics (each process's series with a
`process` label), and model control (a load or unload is repeated in
every process before it is answered). A request that
arrives on a peer socket is answered by that process alone, so nothing is asked twice.

The client is a few lines of HTTP/1.1 over an asyncio Unix stream: the serving image has no HTTP
client library, and the service's own answers always carry a Content-Length.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from app.core.errors import ProcessesDiffer

# Set by the supervisor for each child: "<index>:<count>:<name the peer sockets share>".
PROCESS_ENV = "_SENTIMENT_PROCESS"
PEER_TIMEOUT_S = 30.0  # a model load warms the bundle up: seconds, not milliseconds
READY_TIMEOUT_S = 2.0  # a process that cannot say it is ready within this is not


class PeerError(RuntimeError):
    """A peer process could not be asked (refused, timed out, or gave no whole answer)."""


@dataclass(frozen=True)
class PeerAnswer:
    index: int
    status: int
    body: bytes


@dataclass(frozen=True)
class Peers:
    index: int
    count: int
    name: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Peers | None:
        value = env.get(PROCESS_ENV)
        if not value:
            return None
        index, count, name = value.split(":", 2)
        return cls(int(index), int(count), name)

    def env_value(self) -> str:
        return f"{self.index}:{self.count}:{self.name}"

    def address(self, index: int) -> str:
        """Process `index`'s Unix socket, in the abstract namespace (the leading NUL)."""
        return f"\0{self.name}.{index}"

    @property
    def others(self) -> list[int]:
        return [i for i in range(self.count) if i != self.index]

    async def ask(
        self,
        index: int,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = PEER_TIMEOUT_S,
    ) -> PeerAnswer:
        """One request to process `index`; raises PeerError when it cannot be made."""
        try:
            async with asyncio.timeout(timeout_s):
                status, body = await http_over_unix(self.address(index), method, path, headers)
        except (OSError, TimeoutError, ValueError) as exc:
            raise PeerError(f"process {index} did not answer {method} {path}: {exc}") from exc
        return PeerAnswer(index, status, body)

    async def ask_others(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = PEER_TIMEOUT_S,
    ) -> list[PeerAnswer]:
        """The same request to every other process at once, answers in process order."""
        asked = (self.ask(i, method, path, headers, timeout_s) for i in self.others)
        return list(await asyncio.gather(*asked))


async def others_not_ready(peers: Peers, headers: Mapping[str, str] | None = None) -> str | None:
    """Why some other process is not ready (it answers its own /ready with a non-200 status,
    or cannot be asked), or None when every other one is."""
    try:
        answers = await peers.ask_others("GET", "/ready", headers, READY_TIMEOUT_S)
    except PeerError as exc:
        return str(exc)
    for answer in answers:
        if answer.status != 200:
            reason = answer.body.decode("utf-8", "replace")
            return f"process {answer.index} answered {answer.status}: {reason}"
    return None


def arrived_from_peer(scope: Mapping[str, Any]) -> bool:
    """True for a request on a peer socket: uvicorn gives a connection on an abstract Unix
    socket no server address, and one on the TCP port its host and port. Only consulted when
    the process is one of several (`Peers.from_env()` is not None)."""
    return scope.get("server") is None


async def http_over_unix(
    address: str, method: str, path: str, headers: Mapping[str, str] | None
) -> tuple[int, bytes]:
    # connected by hand: uvloop's create_unix_connection refuses abstract addresses
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, address)
    except OSError:
        sock.close()
        raise
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    try:
        lines = [f"{method} {path} HTTP/1.1", "Host: peer", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        lines.append("Content-Length: 0")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        raw = await reader.read()
    finally:
        writer.close()
    return parse_response(raw)


def parse_response(raw: bytes) -> tuple[int, bytes]:
    """Status and body of a whole HTTP/1.1 response read to the end of the connection."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        raise ValueError("the answer ended before its headers did")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(":", 1) for line in header_lines if ":" in line)
    fields = {name.strip().lower(): value.strip() for name, value in fields.items()}
    if fields.get("transfer-encoding", "").lower() == "chunked":
        raise ValueError("a chunked answer (the service's answers carry a Content-Length)")
    length = int(fields.get("content-length", len(body)))
    if len(body) < length:
        raise ValueError(f"the body ended after {len(body)} of {length} bytes")
    return int(status_line.split(" ", 2)[1]), body[:length]


async def repeat_control(peers: Peers, admin_key: str | None, action: str, name: str) -> None:
    """Repeat a model load or unload that succeeded in this process in every other one (the
    repository's `replicate` hook); raise ProcessesDiffer naming each process that did not."""
    headers = {} if admin_key is None else {"Authorization": f"Bearer {admin_key}"}
    path = f"/v2/repository/models/{quote(name, safe='')}/{action}"
    done_here = f"{action} of {name!r} was done in process {peers.index}"
    try:
        answers = await peers.ask_others("POST", path, headers)
    except PeerError as exc:
        raise ProcessesDiffer(f"{done_here}, but {exc}; repeat the call") from exc
    failed = [
        f"process {a.index} answered {a.status}: {a.body.decode('utf-8', 'replace')}"
        for a in answers
        if a.status != 200
    ]
    if failed:
        raise ProcessesDiffer(f"{done_here}, but " + "; ".join(failed))
