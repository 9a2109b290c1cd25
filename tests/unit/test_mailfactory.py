"""tests/mailfactory.py gives what the tests that use it rely on."""

from __future__ import annotations

import email
import email.policy
from collections import Counter

import pytest

from ikz_inbox.parse import parse_message
from tests.mailfactory import question_mails


def test_same_seed_same_bytes_and_shorter_batches_are_prefixes() -> None:
    assert list(question_mails(12, 3)) == list(question_mails(30, 3))[:12]
    assert list(question_mails(12, 3)) != list(question_mails(12, 4))


@pytest.mark.parametrize("seed", [0, 1])
def test_messages_are_distinct_and_parse(seed: int) -> None:
    raws = list(question_mails(300, seed))
    assert len(set(raws)) == 300
    ids = [
        email.message_from_bytes(raw, policy=email.policy.compat32)["Message-ID"] for raw in raws
    ]
    assert len(set(ids)) == 300
    assert all(parse_message(raw).message_id for raw in raws[:60])


def test_shapes_vary() -> None:
    kinds = Counter(email.message_from_bytes(raw).get_content_type() for raw in question_mails(200))
    assert set(kinds) == {
        "text/plain",
        "multipart/alternative",
        "multipart/mixed",
        "multipart/report",
    }
