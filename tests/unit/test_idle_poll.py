"""A poll that IMAP IDLE triggers: which failures end the IDLE connection and which not."""

from __future__ import annotations

import logging

import pytest

from ikz_inbox.errors import (
    ConfigError,
    IkzInboxError,
    LockError,
    MailboxError,
    ModelError,
    StoppedError,
    StoreError,
)
from ikz_inbox.worker import idle_poll_failure


@pytest.mark.parametrize("error", [MailboxError("weg"), ConfigError("kaputt")])
def test_server_and_config_errors_go_to_the_idle_loop(error: IkzInboxError) -> None:
    assert idle_poll_failure(error) is None


@pytest.mark.parametrize(
    ("error", "level"),
    [
        (StoreError("voll"), logging.ERROR),
        (ModelError("fehlt"), logging.ERROR),
        (IkzInboxError("anders"), logging.ERROR),
        (StoppedError("beendet"), logging.INFO),
        (LockError("belegt"), logging.DEBUG),
    ],
)
def test_other_failures_are_logged_and_idle_goes_on(error: IkzInboxError, level: int) -> None:
    assert idle_poll_failure(error) == level
