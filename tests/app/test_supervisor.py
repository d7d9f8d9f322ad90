"""The supervisor's sockets: one listener per child on one port, and the check that the port is
free before they share it."""

from __future__ import annotations

import socket

import pytest

from app.ops.supervisor import bind_listeners, require_free_port


def test_each_child_gets_a_listener_of_its_own_on_one_port() -> None:
    listeners = bind_listeners("127.0.0.1", 0, 3)
    try:
        ports = {listener.getsockname()[1] for listener in listeners}
        assert len(ports) == 1 and len({listener.fileno() for listener in listeners}) == 3
        assert all(listener.get_inheritable() for listener in listeners)
        assert all(
            listener.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for listener in listeners
        )
    finally:
        for listener in listeners:
            listener.close()


def test_a_port_another_server_listens_on_is_refused_with_its_number() -> None:
    with socket.create_server(("127.0.0.1", 0), reuse_port=True) as other:
        port = other.getsockname()[1]
        with pytest.raises(SystemExit, match=f"HTTP port {port} on 127.0.0.1 is in use"):
            require_free_port("127.0.0.1", port, "HTTP")


def test_a_port_whose_last_server_just_stopped_is_free() -> None:
    # the server closes its side first, as at shutdown: the connection waits in TIME_WAIT on
    # the server's port, which must not keep a restarted service from binding it
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()
        client.recv(1)  # the server's FIN
        client.close()
    require_free_port("127.0.0.1", port, "HTTP")
