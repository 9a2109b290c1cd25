"""Mailing the briefing: a real local SMTP server (aiosmtpd) that requires STARTTLS and
a login, with a certificate from a private CA (the one the Dovecot fixture makes)."""

from __future__ import annotations

import email
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from ikz_inbox.config import DeliverySection
from ikz_inbox.delivery import briefing_message, send_message, smtp_password
from ikz_inbox.errors import ConfigError, DeliveryError
from tests.components import tool_or_skip
from tests.integration.dovecot import make_certificates

USER, PASSWORD = "ikz-briefing", "s3cret-Passwort"


@dataclass
class _Inbox:
    """The SMTP server's handler: keeps every accepted message."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 OK"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok)


@dataclass(frozen=True)
class SmtpServer:
    port: int
    ca_file: Path
    inbox: _Inbox


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    tool_or_skip("openssl", "the test certificates of the SMTP server")
    ca, cert, key = make_certificates(tmp_path / "tls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticate,
        auth_require_tls=True,
        server_hostname="localhost",
    )
    controller.start()
    try:
        yield SmtpServer(port, ca, inbox)
    finally:
        controller.stop()


def section(server: SmtpServer, **changes: Any) -> DeliverySection:
    values: dict[str, Any] = {
        "host": "localhost",
        "port": server.port,
        "security": "starttls",
        "username": USER,
        "ca_file": str(server.ca_file),
        "sender": "ikz@interkommunales.nrw",
        "recipients": ["moderation@example.org", "team@example.org"],
        "timeout": 10,
    }
    values.update(changes)
    return DeliverySection.model_validate(values)


def test_briefing_is_mailed_over_starttls_with_attachments(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    pdf = tmp_path / "briefing-e1.pdf"
    pdf.write_bytes(b"%PDF-1.7 test")
    html = tmp_path / "briefing-e1.html"
    html.write_text("<!DOCTYPE html><html lang='de'></html>", encoding="utf-8")
    config = section(smtp_server)
    message = briefing_message(config, "Fragen-Briefing: Sprechstunde", "# Text", [pdf, html])
    send_message(config, message, PASSWORD)
    [received] = smtp_server.inbox.messages
    assert received["Subject"] == "Fragen-Briefing: Sprechstunde"
    assert received["To"] == "moderation@example.org, team@example.org"
    names = [part.get_filename() for part in received.walk() if part.get_filename()]
    assert names == ["briefing-e1.pdf", "briefing-e1.html"]
    assert PASSWORD not in received.as_string()


@pytest.mark.timeout(180)  # 7-11 s here (--durations); a loaded CI runner is slower
def test_wrong_password_is_a_delivery_error_without_the_password(
    smtp_server: SmtpServer,
) -> None:
    config = section(smtp_server)
    message = briefing_message(config, "Briefing", "Text", [])
    with pytest.raises(DeliveryError) as caught:
        send_message(config, message, "falsch-geraten")
    assert "falsch-geraten" not in str(caught.value)
    assert smtp_server.inbox.messages == []


def test_server_certificate_from_an_unknown_ca_is_refused(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    other_ca, _, _ = make_certificates(tmp_path / "other")
    config = section(smtp_server, ca_file=str(other_ca))
    with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
        send_message(config, briefing_message(config, "B", "T", []), PASSWORD)
    assert smtp_server.inbox.messages == []


def test_plain_smtp_is_refused_for_a_remote_host(smtp_server: SmtpServer) -> None:
    config = section(smtp_server, host="smtp.example.org", security="plain")
    with pytest.raises(ConfigError, match="loopback"):
        send_message(config, briefing_message(config, "B", "T", []), PASSWORD)


def test_password_comes_from_file_env_or_systemd_credential(tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("aus-datei\n")
    base: dict[str, Any] = {"host": "h", "sender": "a@b.de", "recipients": ["c@d.de"]}
    from_file = DeliverySection.model_validate(
        {**base, "username": "u", "password_file": str(secret)}
    )
    assert smtp_password(from_file, {}) == "aus-datei"
    from_env = DeliverySection.model_validate({**base, "username": "u", "password_env": "PW"})
    assert smtp_password(from_env, {"PW": "aus-umgebung"}) == "aus-umgebung"
    credential = DeliverySection.model_validate({**base, "username": "u"})
    assert smtp_password(credential, {"CREDENTIALS_DIRECTORY": str(tmp_path)}) == "aus-datei"
    with pytest.raises(ConfigError, match="password_file"):
        smtp_password(credential, {})
    assert smtp_password(DeliverySection.model_validate(base), {}) is None
