"""Fixtures for the integration tests: private Dovecot servers (see dovecot.py).

``dovecot`` is one session-wide server (started again if a test stopped it),
``imap_user`` a fresh account with an empty mailbox for each test, and
``dovecot_servers(imap_capability)`` starts further servers that advertise fewer
capabilities. When Dovecot cannot run here the tests are skipped, unless the
environment sets IKZ_REQUIRE_DOVECOT=1 (as CI may), which turns the skip into a failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

import pytest

from tests.components import REQUIRE_DOVECOT, unavailable
from tests.integration.dovecot import (
    DovecotServer,
    DovecotUnavailableError,
    ImapUser,
    ServerFactory,
)


def _unavailable(reason: str) -> NoReturn:
    unavailable(REQUIRE_DOVECOT, "Dovecot", reason)


def _start_server(imap_capability: str | None) -> DovecotServer:
    try:
        server = DovecotServer.create(imap_capability)
    except DovecotUnavailableError as exc:
        _unavailable(str(exc))
    try:
        server.start()
    except DovecotUnavailableError as exc:
        server.cleanup()
        _unavailable(str(exc))
    return server


@pytest.fixture(scope="session")
def dovecot_servers() -> Iterator[ServerFactory]:
    """Return a function giving the (shared) server for a CAPABILITY override, or None."""
    servers: dict[str, DovecotServer] = {}

    def get(imap_capability: str | None = None) -> DovecotServer:
        key = imap_capability or ""
        if key not in servers:
            servers[key] = _start_server(imap_capability)
        server = servers[key]
        server.start()  # no-op while running; revives a server a test stopped
        return server

    try:
        yield get
    finally:
        for server in servers.values():
            server.cleanup()


@pytest.fixture
def dovecot(dovecot_servers: ServerFactory) -> DovecotServer:
    """The shared private Dovecot with every capability, running."""
    return dovecot_servers(None)


@pytest.fixture
def imap_user(dovecot: DovecotServer) -> ImapUser:
    """A new account on ``dovecot`` with an empty INBOX."""
    return dovecot.add_user()
