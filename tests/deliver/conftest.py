"""Fixtures for delivery tests: real aiosmtpd servers on 127.0.0.1, a port with nothing
listening, and the packaged config pointed at them. Retry delays are made tiny through the
config (`smtp.retry_delay`), never by patching time."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from deliver_support import Handler, Server, free_port

from finrep.config import load_config


@pytest.fixture
def smtp_server():
    """Factory: ``smtp_server(Handler(...), **controller_kwargs)`` → a running `Server`."""
    started: list[Controller] = []

    def start(handler: Handler | None = None, **kwargs) -> Server:
        handler = handler or Handler()
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        started.append(controller)
        return Server(handler, port, controller)

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def dead_port() -> int:
    """A port on 127.0.0.1 with nothing listening."""
    return free_port()


@pytest.fixture
def config_for(tmp_path):
    """Factory: the packaged config pointed at a local server, with tiny retry delays."""

    def make(port: int, **smtp):
        values = {
            "host": "127.0.0.1",
            "port": port,
            "starttls": False,
            "retry_delay": 0.01,
            "max_attempts": 3,
            "timeout": 5.0,
            **smtp,
        }
        return load_config().with_overrides(smtp=values, report={"out": str(tmp_path / "reports")})

    return make
