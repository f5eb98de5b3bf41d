"""[http] settings: bad values are refused naming the key; TLS; a port in use fails the start."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import httpx
import pytest

from bounced.config import parse_config
from bounced.errors import ConfigError
from tests.conftest import self_signed_certificate
from tests.harness import running_daemon
from tests.http.conftest import http_config

GOOD = 'name = "p"\ntoken = "0123456789abcdefXYZ"\nscope = "admin"\n'


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("[http]\nenabled = true\n", "http.tokens", "no token"),
        ('[[http.tokens]]\nname = "p"\ntoken = "short"\n', "http.tokens[0].token", "at least 16"),
        (f"[[http.tokens]]\n{GOOD}[[http.tokens]]\n{GOOD}", "http.tokens[1].token", "twice"),
        (f"[[http.tokens]]\n{GOOD.replace('admin', 'root')}", "http.tokens[0].scope", "'read', 'admin'"),
        ('[http]\nlisten = "8025"\n', "http.listen", "HOST:PORT"),
        ('[http]\ntls_cert = "/c.pem"\n', "http.tls_cert", "go together"),
        ("[http]\nmax_request_size = 0\n", "http.max_request_size", "positive"),
        ("[http]\nready_max_backlog = -1\n", "http.ready_max_backlog", "positive"),
        ("[http]\nport = 1\n", "http.port", "unknown setting"),
    ],
)
def test_bad_http_settings_name_the_key(text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.key == key and words in str(caught.value)


async def test_https_with_tls_cert_and_key(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path, "localhost")
    config = http_config(tmp_path)
    from dataclasses import replace

    config = replace(config, http=replace(config.http, tls_cert=cert, tls_key=key))
    async with running_daemon(config) as d:
        context = ssl.create_default_context(cafile=cert)
        async with httpx.AsyncClient(verify=context) as c:
            r = await c.get(f"https://127.0.0.1:{d.daemon.http_port}/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


async def test_port_in_use_fails_the_start(tmp_path: Path) -> None:
    config = http_config(tmp_path)
    host, port = config.http.host_port
    with socket.socket() as taken:
        taken.bind((host, port))
        taken.listen(1)
        with pytest.raises(OSError):
            async with running_daemon(config, retry_ports=False):
                pass
