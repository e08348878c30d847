"""A listener closed by a graceful stop still answers gunicorn's question of its name, so the
connections accepted just before the stop are served, not logged as socket errors."""

from __future__ import annotations

import socket

import pytest

from showcase.runtime.worker import NamedListener


def test_a_closed_listener_still_gives_the_name_it_had_open() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    name = listener.getsockname()
    named = NamedListener(listener, name)
    listener.close()
    with pytest.raises(OSError):
        listener.getsockname()  # what gunicorn's handle() met: EBADF
    assert named.getsockname() == name
    assert named.fileno() == -1  # everything else is the socket's own


def test_an_open_listener_is_the_socket_itself_but_for_its_name() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        named = NamedListener(listener, ("127.0.0.1", 1))
        assert named.getsockname() == ("127.0.0.1", 1)
        assert named.family == socket.AF_INET and named.fileno() == listener.fileno()
