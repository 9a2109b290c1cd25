"""Mail the briefing to the moderators over SMTP: the only module that speaks SMTP.

In: the ``[delivery]`` settings, the briefing's subject, its Markdown as the mail text and
the written files to attach. The password comes from ``password_env``, ``password_file``
or systemd's ``$CREDENTIALS_DIRECTORY/smtp-password``, never from the TOML, and is never
logged. STARTTLS is required unless ``security`` is "tls" (SMTPS) or "plain" on loopback.
"""

from __future__ import annotations

import logging
import mimetypes
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from ikz_inbox.config import DeliverySection, read_password
from ikz_inbox.errors import ConfigError, DeliveryError
from ikz_inbox.mailbox import is_loopback, make_ssl_context

logger = logging.getLogger(__name__)

# The systemd credential (LoadCredential=smtp-password:...) read when no other source is set.
CREDENTIAL_NAME = "smtp-password"


def smtp_password(section: DeliverySection, environ: Mapping[str, str]) -> str | None:
    """The SMTP password, or None when the server takes mail without login."""
    if section.username is None:
        return None
    return read_password(
        "delivery",
        password_env=section.password_env,
        password_file=section.password_file,
        credential_name=CREDENTIAL_NAME,
        environ=environ,
    )


def briefing_message(
    section: DeliverySection, subject: str, text: str, attachments: Sequence[Path]
) -> EmailMessage:
    """The mail: the Markdown briefing as its text, the files attached."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = section.sender
    message["To"] = ", ".join(section.recipients)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=section.sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    message.set_content(text)
    for path in attachments:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, _, subtype = kind.partition("/")
        message.add_attachment(
            path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
        )
    return message


def send_message(section: DeliverySection, message: EmailMessage, password: str | None) -> None:
    """Send over SMTP with STARTTLS (or SMTPS, or plain on loopback); raise DeliveryError."""
    if section.security == "plain" and not is_loopback(section.host):
        raise ConfigError(
            "'delivery.security' = \"plain\" is allowed only for a loopback host, "
            f"not {section.host!r}"
        )
    context = make_ssl_context(Path(section.ca_file) if section.ca_file else None)
    try:
        with _connect(section, context) as smtp:
            if section.username is not None and password is not None:
                smtp.login(section.username, password)
            refused = smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        # The exception text never holds the password (smtplib does not echo AUTH data).
        raise DeliveryError(
            f"Briefing nicht versandt über {section.host}:{section.port}: {exc}"
        ) from None
    if refused:
        raise DeliveryError(f"Empfänger abgelehnt: {', '.join(sorted(refused))}")
    logger.info("briefing mailed to %d recipient(s) via %s", len(section.recipients), section.host)


def _connect(section: DeliverySection, context: ssl.SSLContext) -> smtplib.SMTP:
    if section.security == "tls":
        return smtplib.SMTP_SSL(
            section.host, section.port, timeout=section.timeout, context=context
        )
    smtp = smtplib.SMTP(section.host, section.port, timeout=section.timeout)
    try:
        smtp.ehlo()
        if section.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise DeliveryError(
                    f"{section.host} bietet kein STARTTLS an; unverschlüsselt wird nicht gesendet."
                )
            smtp.starttls(context=context)
            smtp.ehlo()
    except BaseException:
        smtp.close()
        raise
    return smtp
