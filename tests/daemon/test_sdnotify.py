"""sd_notify datagrams, received the way systemd receives them."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

from bounced.sdnotify import Notifier


def receive(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_filesystem_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(5)
        notifier = Notifier(str(path))
        assert notifier.ready("listening on 127.0.0.1:25")
        assert receive(sock) == ["READY=1", "STATUS=listening on 127.0.0.1:25"]
        assert notifier.reloading()
        lines = receive(sock)
        assert lines[0] == "RELOADING=1" and lines[1].startswith("MONOTONIC_USEC=")
        assert notifier.stopping()
        assert receive(sock) == ["STOPPING=1"]


def test_abstract_socket() -> None:
    name = f"bounced-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert Notifier("@" + name).status("applying")
        assert receive(sock) == ["STATUS=applying"]


def test_without_systemd_nothing_is_sent_and_nothing_fails(tmp_path: Path) -> None:
    assert not Notifier("").enabled
    assert not Notifier("").ready()
    # A socket that went away is logged, never raised: systemd restarting must not kill us.
    assert not Notifier(str(tmp_path / "gone")).ready()
