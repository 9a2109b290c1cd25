"""IMAP access to the IKZ mailbox; the only module that imports imapclient.

In: a ``MailboxConfig`` (plain values) and ``Credentials`` (secrets). Out, through a
``Mailbox`` used as a context manager: the folder's UIDVALIDITY (``select``), the UIDs
above the last one seen (``new_uids``), the raw bytes of those messages as ``FetchedMail``
(``fetch``, never parsed, never marked as seen), the configured post-action on UIDs the
store has committed (``apply_post_action``) and IDLE waits for new mail (``idle_wait``).

New mail is found by UID only, never by \\Seen or other flags. Nothing is ever deleted:
"move" is MOVE, or COPY + \\Deleted + UID EXPUNGE of exactly those UIDs. Every imapclient,
socket and TLS failure surfaces as ``MailboxError`` naming host, port and folder; secrets
are never logged nor put into messages.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import ssl
import time
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from ikz_inbox.config import ImapSection, read_imap_password, read_oauth2_token
from ikz_inbox.errors import ConfigError, MailboxError
from ikz_inbox.limits import MAX_MESSAGE_BYTES
from ikz_inbox.types import RawMail

logger = logging.getLogger(__name__)

Security = Literal["tls", "starttls", "plain"]
PostAction = Literal["none", "flag", "move"]

SECURITY_MODES: tuple[Security, ...] = ("tls", "starttls", "plain")
POST_ACTIONS: tuple[PostAction, ...] = ("none", "flag", "move")
# RFC 2177: a client must re-issue IDLE at least every 29 minutes or the server may drop it.
IDLE_RENEW_SECONDS = 25 * 60.0
# How often to ask with NOOP when the server has no IDLE capability.
POLL_INTERVAL_SECONDS = 30.0
# An IDLE check that returns nothing this much before its deadline hit EOF or a broken
# socket; leaving IDLE then either raises (connection gone) or simply re-enters IDLE.
IDLE_EARLY_RETURN_SECONDS = 0.5
# Most message bytes requested in one FETCH: keeps memory bounded when many mails are big.
FETCH_BYTE_BUDGET = 64_000_000
# UIDs per RFC822.SIZE request; each answer line is ~40 bytes, far below line limits.
SIZE_CHUNK = 1000
# An IMAP keyword or system flag: an atom, optionally starting with "\" or "$".
_FLAG_PATTERN = re.compile(r"^[\\$]?[A-Za-z0-9_.\-]+$")
_DELETED = b"\\Deleted"
_ANY_KEYWORD = b"\\*"


def is_loopback(host: str) -> bool:
    """Return True for ``localhost`` and addresses in 127.0.0.0/8 or ::1 (no DNS lookup)."""
    name = host.strip().rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def make_ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """Return a verifying TLS client context (system CAs, or only ``ca_file`` when given).

    Raises ConfigError when ``ca_file`` cannot be read as PEM certificates.
    """
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load CA file {ca_file}: {exc}") from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@dataclass(frozen=True)
class MailboxConfig:
    """Where and how to read mail; plain values, validated on construction (ConfigError)."""

    name: str  # key of the sync state, e.g. "default"
    host: str
    port: int
    security: Security
    username: str
    ca_file: Path | None
    folder: str
    post_action: PostAction
    move_to: str | None
    flag: str = "$IKZProcessed"
    timeout: float = 30.0
    batch_size: int = 100
    max_message_bytes: int = MAX_MESSAGE_BYTES
    quarantine_to: str | None = None  # quarantined mail is moved here instead

    def __post_init__(self) -> None:
        for problem in _config_problems(self):
            raise ConfigError(f"mailbox {self.name!r}: {problem}")

    @property
    def address(self) -> str:
        """``host:port`` for messages."""
        return f"{self.host}:{self.port}"


def _config_problems(config: MailboxConfig) -> Iterator[str]:
    """Yield what is wrong with ``config`` (nothing when it is valid)."""
    if not config.name or not config.host or not config.username or not config.folder:
        yield "name, host, username and folder must not be empty"
    if not 0 < config.port < 65536:
        yield f"port {config.port} is not a TCP port"
    if config.security not in SECURITY_MODES:
        yield f"security must be one of {SECURITY_MODES}, not {config.security!r}"
    if config.security == "plain" and not is_loopback(config.host):
        yield (
            'security = "plain" sends the password in clear; it is allowed only for a '
            f"loopback host, not {config.host!r}"
        )
    if config.post_action not in POST_ACTIONS:
        yield f"post_action must be one of {POST_ACTIONS}, not {config.post_action!r}"
    if config.post_action == "move" and not config.move_to:
        yield 'post_action = "move" needs move_to'
    if config.post_action == "move" and config.move_to == config.folder:
        yield "move_to must differ from folder"
    if config.quarantine_to is not None and config.quarantine_to in ("", config.folder):
        yield "quarantine_to must name another folder"
    if not _FLAG_PATTERN.match(config.flag):
        yield f"flag {config.flag!r} is not an IMAP keyword"
    if config.timeout <= 0 or config.batch_size < 1 or config.max_message_bytes < 1:
        yield "timeout, batch_size and max_message_bytes must be positive"


@dataclass(frozen=True)
class Credentials:
    """A login: password (LOGIN) or OAuth2 access token (XOAUTH2); repr hides secrets."""

    username: str
    password: str | None = field(default=None, repr=False)
    oauth2_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if (self.password is None) == (self.oauth2_token is None):
            raise ConfigError(
                f"credentials for {self.username!r}: give exactly one of password, oauth2_token"
            )

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret strings, for redaction."""
        return tuple(s for s in (self.password, self.oauth2_token) if s)


def mailbox_config_for(section: ImapSection) -> MailboxConfig:
    """The plain mailbox config of a validated ``[imap]`` section."""
    return MailboxConfig(
        name=section.name,
        host=section.host,
        port=section.port,
        security=section.security,
        username=section.username,
        ca_file=Path(section.ca_file) if section.ca_file else None,
        folder=section.folder,
        post_action=section.post_action,
        move_to=section.move_to,
        quarantine_to=section.quarantine_to,
        flag=section.flag,
        timeout=section.timeout,
        batch_size=section.batch_size,
        max_message_bytes=section.max_message_bytes,
    )


def credentials_for(section: ImapSection, environ: Mapping[str, str]) -> Credentials:
    """The login of ``section``: an OAuth2 token (file or command), else the password (env
    variable, file, or systemd credential); read anew on every call, so a rotated secret
    is used by the next connection."""
    token = read_oauth2_token(section)
    if token is not None:
        return Credentials(section.username, oauth2_token=token)
    return Credentials(section.username, password=read_imap_password(section, environ))


@dataclass(frozen=True)
class FetchedMail:
    """One message as fetched: its UID, raw bytes with source, and size verdict."""

    uid: int
    raw: RawMail  # raw.source = "imap:<name>/<folder>;UIDVALIDITY=<v>;UID=<uid>"
    size: int
    too_large: bool  # over max_message_bytes: the caller quarantines it unparsed


class _RedactingAdapter(logging.LoggerAdapter[logging.Logger]):
    """Logger adapter that replaces the given secrets in messages and string args."""

    def __init__(self, base: logging.Logger, secrets: Sequence[str]) -> None:
        super().__init__(base, {})
        self._secrets = tuple(secrets)

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            clean = tuple(
                self.redact(str(a)) if isinstance(a, str | Exception) else a for a in args
            )
            super().log(level, self.redact(str(msg)), *clean, **kwargs)

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        return msg, kwargs


class Mailbox:
    """A logged-in IMAP connection to one configured folder; use as a context manager."""

    def __init__(self, config: MailboxConfig, credentials: Credentials) -> None:
        if credentials.username != config.username:
            raise ConfigError(
                f"mailbox {config.name!r}: credentials are for {credentials.username!r}, "
                f"the mailbox is configured for {config.username!r}"
            )
        self._config = config
        self._credentials = credentials
        self._log = _RedactingAdapter(logger, credentials.secrets)
        self._client: Any = None  # IMAPClient once connected
        self._uidvalidity: int | None = None

    def __enter__(self) -> Self:
        self._client = self._connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._disconnect()

    @property
    def uidvalidity(self) -> int | None:
        """UIDVALIDITY of the selected folder, None before ``select``."""
        return self._uidvalidity

    def has_capabilities(self, names: Sequence[str]) -> dict[str, bool]:
        """Which of ``names`` (e.g. "MOVE", "IDLE") the logged-in server announces."""
        client = self._require_client()
        with self._guard("capability"):
            return {name: bool(client.has_capability(name)) for name in names}

    # -- connection ---------------------------------------------------------------------

    def _connect(self) -> Any:
        config = self._config
        context = make_ssl_context(config.ca_file) if config.security != "plain" else None
        with self._guard("connect"):
            client = IMAPClient(
                config.host,
                port=config.port,
                ssl=config.security == "tls",
                ssl_context=context,
                timeout=config.timeout,
            )
        try:
            with self._guard("log in"):
                if config.security == "starttls":
                    client.starttls(context)
                self._login(client)
        except BaseException:
            with suppress(IMAPClientError, OSError):
                client.shutdown()
            raise
        self._log.debug(
            "connected to %s as %s (%s)", config.address, config.username, config.security
        )
        return client

    def _login(self, client: Any) -> None:
        creds = self._credentials
        if creds.oauth2_token is not None:
            client.oauth2_login(creds.username, creds.oauth2_token)
        else:
            client.login(creds.username, creds.password)

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except (IMAPClientError, OSError) as exc:
            self._log.debug("logout from %s failed: %s", self._config.address, exc)
            with suppress(IMAPClientError, OSError):
                client.shutdown()

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn imapclient, socket and TLS failures into MailboxError with context."""
        try:
            yield
        except (IMAPClientError, OSError, UnicodeError) as exc:
            config = self._config
            detail = self._log.redact(str(exc)) or type(exc).__name__
            raise MailboxError(
                f"IMAP {action} failed on {config.address} (folder {config.folder!r}, "
                f"user {config.username!r}): {detail}"
            ) from exc

    def _require_client(self) -> Any:
        if self._client is None:
            raise MailboxError(f"mailbox {self._config.name!r} is not connected; use `with`")
        return self._client

    def _require_selected(self) -> Any:
        client = self._require_client()
        if self._uidvalidity is None:
            raise MailboxError(f"mailbox {self._config.name!r}: call select() first")
        return client

    # -- reading ------------------------------------------------------------------------

    def select(self) -> int:
        """Select the configured folder read-write and return its UIDVALIDITY.

        Also verifies that the configured post-action is possible on this server
        (keywords allowed, MOVE or UIDPLUS) before anything on the server is changed.
        """
        client = self._require_client()
        with self._guard("select"):
            response = client.select_folder(self._config.folder, readonly=False)
            self._verify_post_action(client, response)
        uidvalidity = int(response[b"UIDVALIDITY"])
        if self._uidvalidity not in (None, uidvalidity):
            self._log.warning(
                "UIDVALIDITY of %s changed from %s to %s",
                self._config.folder,
                self._uidvalidity,
                uidvalidity,
            )
        self._uidvalidity = uidvalidity
        return uidvalidity

    def _verify_post_action(self, client: Any, response: Mapping[bytes, Any]) -> None:
        config = self._config
        permanent = response.get(b"PERMANENTFLAGS")
        if config.post_action == "flag" and permanent is not None:
            # RFC 3501 7.1: without PERMANENTFLAGS every flag may be stored permanently.
            allowed = {bytes(f).lower() for f in permanent}
            if _ANY_KEYWORD not in allowed and config.flag.encode().lower() not in allowed:
                raise MailboxError(
                    f"{config.address} folder {config.folder!r} does not allow the flag "
                    f"{config.flag!r}; choose another post_action"
                )
        if config.post_action == "move" and not _can_move(client):
            raise MailboxError(
                f"{config.address} supports neither MOVE nor UIDPLUS, so moving could "
                'delete other mail; choose post_action = "flag" or "none"'
            )

    def new_uids(self, after_uid: int) -> list[int]:
        """Return the UIDs above ``after_uid`` in ascending order.

        ``UID SEARCH UID n:*`` also answers the highest existing UID when nothing is
        newer (``*`` is the last message), so the result is filtered.
        """
        if after_uid < 0:
            raise ValueError(f"after_uid must be >= 0, not {after_uid}")
        client = self._require_selected()
        with self._guard("search"):
            found = client.search(["UID", f"{after_uid + 1}:*"])
        return sorted(uid for uid in found if uid > after_uid)

    def fetch(self, uids: Sequence[int]) -> Iterator[FetchedMail]:
        """Yield each message of ``uids`` once, ascending, with its raw bytes.

        Uses BODY.PEEK[] (does not set \\Seen). UIDs that vanished meanwhile are skipped.
        A message over ``max_message_bytes`` is still fetched but marked ``too_large``.
        """
        for batch in self.fetch_batches(uids):
            yield from batch

    def fetch_batches(self, uids: Sequence[int]) -> Iterator[list[FetchedMail]]:
        """Like :meth:`fetch`, one list per FETCH command (at most ``batch_size`` messages
        and about FETCH_BYTE_BUDGET bytes); a list may be empty when all its UIDs vanished."""
        client = self._require_selected()
        ordered = sorted(set(uids))
        for start in range(0, len(ordered), SIZE_CHUNK):
            sizes = self._fetch_sizes(client, ordered[start : start + SIZE_CHUNK])
            for batch in _plan_batches(sizes, self._config.batch_size, FETCH_BYTE_BUDGET):
                yield list(self._fetch_bodies(client, batch))

    def _fetch_sizes(self, client: Any, uids: Sequence[int]) -> dict[int, int]:
        with self._guard("fetch sizes"):
            response = client.fetch(uids, [b"RFC822.SIZE"])
        wanted = set(uids)
        return {
            uid: int(data[b"RFC822.SIZE"])
            for uid, data in response.items()
            if uid in wanted and b"RFC822.SIZE" in data
        }

    def _fetch_bodies(self, client: Any, uids: Sequence[int]) -> Iterator[FetchedMail]:
        with self._guard("fetch"):
            response = client.fetch(uids, [b"BODY.PEEK[]"])
        for uid in uids:
            raw = response.get(uid, {}).get(b"BODY[]")
            if raw is None:
                self._log.warning("UID %s vanished from %s before fetch", uid, self._config.folder)
                continue
            yield self._fetched(uid, bytes(raw))

    def _fetched(self, uid: int, raw: bytes) -> FetchedMail:
        config = self._config
        source = f"imap:{config.name}/{config.folder};UIDVALIDITY={self._uidvalidity};UID={uid}"
        too_large = len(raw) > config.max_message_bytes
        if too_large:
            self._log.warning(
                "UID %s is %s bytes, over the limit %s", uid, len(raw), config.max_message_bytes
            )
        else:
            self._log.debug("fetched UID %s (%s bytes)", uid, len(raw))
        return FetchedMail(
            uid=uid, raw=RawMail(raw=raw, source=source), size=len(raw), too_large=too_large
        )

    # -- acting on the server -----------------------------------------------------------

    def apply_post_action(self, uids: Sequence[int]) -> None:
        """Apply the configured post-action to ``uids`` (call only after the store committed).

        none: nothing. flag: STORE +FLAGS the keyword. move: MOVE to ``move_to`` (created
        when missing), else COPY + \\Deleted + UID EXPUNGE of exactly these UIDs.
        """
        config = self._config
        ordered = sorted(set(uids))
        if config.post_action == "none" or not ordered:
            return
        client = self._require_selected()
        for start in range(0, len(ordered), config.batch_size):
            batch = ordered[start : start + config.batch_size]
            if config.post_action == "flag":
                self._flag(client, batch)
            else:
                self._move(client, batch, config.move_to or "")

    def apply_quarantine_action(self, uids: Sequence[int]) -> None:
        """Move quarantined ``uids`` to ``quarantine_to`` (call only after the store
        committed); without ``quarantine_to`` they get the ordinary post-action."""
        target = self._config.quarantine_to
        if target is None:
            self.apply_post_action(uids)
            return
        ordered = sorted(set(uids))
        client = self._require_selected()
        for start in range(0, len(ordered), self._config.batch_size):
            self._move(client, ordered[start : start + self._config.batch_size], target)

    def _flag(self, client: Any, uids: Sequence[int]) -> None:
        with self._guard("flag"):
            client.add_flags(uids, [self._config.flag.encode()], silent=True)
        self._log.info(
            "flagged %s message(s) %s in %s", len(uids), self._config.flag, self._config.folder
        )

    def _move(self, client: Any, uids: Sequence[int], target: str) -> None:
        with self._guard(f"move to {target!r}"):
            if not _can_move(client):
                raise MailboxError(f"{self._config.address} supports neither MOVE nor UIDPLUS")
            if not client.folder_exists(target):
                client.create_folder(target)
                self._log.info("created folder %s", target)
            if client.has_capability("MOVE"):
                client.move(uids, target)
            else:
                client.copy(uids, target)
                client.add_flags(uids, [_DELETED], silent=True)
                client.uid_expunge(uids)
        self._log.info("moved %s message(s) from %s to %s", len(uids), self._config.folder, target)

    # -- waiting ------------------------------------------------------------------------

    def idle_wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for new mail in the selected folder.

        Uses IMAP IDLE (re-issued every 25 minutes), or NOOP polling when the server
        lacks IDLE. Returns True as soon as an EXISTS/RECENT response arrives, False at
        the timeout. Raises MailboxError when the connection breaks meanwhile.
        """
        client = self._require_selected()
        deadline = time.monotonic() + timeout
        with self._guard("IDLE"):
            if _has_arrival(client.noop()[1]):
                return True
            wait_round = self._idle_round if client.has_capability("IDLE") else _poll_round
            while (remaining := deadline - time.monotonic()) > 0:
                if wait_round(client, min(remaining, IDLE_RENEW_SECONDS)):
                    return True
        return False

    def _idle_round(self, client: Any, seconds: float) -> bool:
        """One IDLE command of at most ``seconds``; True when new mail was announced."""
        deadline = time.monotonic() + seconds
        client.idle()
        arrived = False
        while not arrived and (remaining := deadline - time.monotonic()) > 0:
            responses = client.idle_check(timeout=remaining)
            _raise_on_bye(responses)
            arrived = _has_arrival(responses)
            if not responses and deadline - time.monotonic() > IDLE_EARLY_RETURN_SECONDS:
                break  # EOF or a broken socket: DONE below raises if the connection is gone
        done_responses = client.idle_done()[1]
        _raise_on_bye(done_responses)
        return arrived or _has_arrival(done_responses)


def _plan_batches(sizes: Mapping[int, int], max_count: int, byte_budget: int) -> list[list[int]]:
    """Group UIDs (ascending) into FETCH batches of at most ``max_count`` messages and
    ``byte_budget`` bytes; a message bigger than the budget gets a batch of its own."""
    batches: list[list[int]] = []
    current: list[int] = []
    current_bytes = 0
    for uid in sorted(sizes):
        size = sizes[uid]
        if current and (len(current) == max_count or current_bytes + size > byte_budget):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(uid)
        current_bytes += size
    if current:
        batches.append(current)
    return batches


def _can_move(client: Any) -> bool:
    return bool(client.has_capability("MOVE") or client.has_capability("UIDPLUS"))


def _poll_round(client: Any, seconds: float) -> bool:
    """Sleep up to POLL_INTERVAL_SECONDS, then ask with NOOP; True when mail arrived."""
    time.sleep(min(seconds, POLL_INTERVAL_SECONDS))
    return _has_arrival(client.noop()[1])


def _has_arrival(responses: Iterable[object]) -> bool:
    """True when untagged responses announce new messages (EXISTS, or RECENT above 0)."""
    for response in responses:
        if isinstance(response, tuple) and len(response) >= 2:
            count, kind = response[0], response[1]
            if kind == b"EXISTS" or (kind == b"RECENT" and isinstance(count, int) and count > 0):
                return True
    return False


def _raise_on_bye(responses: Iterable[object]) -> None:
    for response in responses:
        if isinstance(response, tuple) and response and response[0] == b"BYE":
            raise IMAPClientError(f"server closed the connection: {response[1:]!r}")
