"""A poll that IMAP IDLE triggers: which failures end the IDLE connection and which not."""

from __future__ import annotations

import logging
import threading
from types import SimpleNamespace

import pytest

from ikz_inbox import worker
from ikz_inbox.errors import (
    ConfigError,
    IkzInboxError,
    LockError,
    MailboxError,
    ModelError,
    StoppedError,
    StoreError,
)


def _poll_raising(error: IkzInboxError, monkeypatch: pytest.MonkeyPatch) -> None:
    def poll(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(worker, "poll_mailbox", poll)


def _poll_quietly() -> None:
    # The poll is replaced: the app is never read, and of the section only its name.
    section = SimpleNamespace(name="default")
    worker._poll_quietly(None, section, threading.Event())  # type: ignore[arg-type]


@pytest.mark.parametrize("error", [MailboxError("weg"), ConfigError("kaputt")])
def test_server_and_config_errors_go_to_the_idle_loop(
    error: IkzInboxError, monkeypatch: pytest.MonkeyPatch
) -> None:
    _poll_raising(error, monkeypatch)
    with pytest.raises(type(error)):
        _poll_quietly()


@pytest.mark.parametrize(
    ("error", "level"),
    [
        (StoreError("voll"), logging.ERROR),
        (ModelError("fehlt"), logging.ERROR),
        (StoppedError("beendet"), logging.INFO),
        (LockError("belegt"), logging.DEBUG),
    ],
)
def test_other_failures_are_logged_and_idle_goes_on(
    error: IkzInboxError,
    level: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _poll_raising(error, monkeypatch)
    with caplog.at_level(logging.DEBUG, logger="ikz_inbox.worker"):
        _poll_quietly()
    assert [record.levelno for record in caplog.records] == [level]
