"""A private Dovecot IMAP server for the integration tests.

``DovecotServer.create()`` writes a self-signed CA, a server certificate and a
Dovecot 2.3 configuration into a fresh temporary directory, and ``start()`` runs
``dovecot -F -c <conf>`` on two free loopback ports: IMAP (plain text, STARTTLS offered)
and IMAPS. Each test gets its own user (``add_user``) and therefore its own empty Maildir.
Helpers append messages, restart the server and change a folder's UIDVALIDITY.

This module knows nothing of ``ikz_inbox``; it only needs the ``dovecot``, ``doveadm`` and
``openssl`` binaries (``scripts/install-dovecot.sh`` installs them) and root, because
Dovecot drops privileges to the mail user.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from imapclient import IMAPClient

HOST = "127.0.0.1"
# Generous: a cold start on a loaded CI machine takes well under a second normally.
START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
# How long the master may take to shut down cleanly before it is killed.
GRACE_SECONDS = 0.5
# Client-side socket timeout of the helper connections, so a broken server fails fast.
CLIENT_TIMEOUT = 10.0
# Messages per MULTIAPPEND command when appending many at once.
APPEND_CHUNK = 100


class DovecotUnavailableError(Exception):
    """Raised when Dovecot cannot be set up or started here; the fixture turns it into a skip."""


@dataclass(frozen=True)
class ImapUser:
    """A mail account on the test server; every user has its own empty Maildir.

    ``password`` logs in with LOGIN/PLAIN, and also works as the bearer token of XOAUTH2
    and OAUTHBEARER (Dovecot checks such a token against the passdb like a password).
    """

    username: str
    password: str


@dataclass(frozen=True)
class _Accounts:
    """The system accounts the Dovecot processes run as."""

    mail_user: str
    mail_group: str
    internal_user: str
    login_user: str


def missing_requirements() -> str | None:
    """Return why a private Dovecot cannot run on this machine, or None when it can."""
    missing = [name for name in ("dovecot", "doveadm", "openssl") if shutil.which(name) is None]
    if missing:
        return f"{', '.join(missing)} not installed (run scripts/install-dovecot.sh as root)"
    if os.geteuid() != 0:
        return "the private Dovecot must be started as root (it drops privileges)"
    return None


def free_port() -> int:
    """Return a TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def port_accepts(port: int, timeout: float = 0.2) -> bool:
    """Return True when something accepts TCP connections on the loopback ``port``."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def imap_greets(port: int, timeout: float = 1.0) -> bool:
    """Return True when a plain-text IMAP server on ``port`` sends its "* OK" greeting.

    The Dovecot master listens before its login processes run; only the greeting shows
    that the server is ready (and a master stopped before that takes seconds to exit).
    """
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            return sock.recv(64).startswith(b"* OK")
    except OSError:
        return False


def _existing_user(*names: str) -> str:
    for name in names:
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise DovecotUnavailableError(f"none of the system users {names} exists")


def _existing_group(*names: str) -> str:
    for name in names:
        with contextlib.suppress(KeyError):
            grp.getgrnam(name)
            return name
    raise DovecotUnavailableError(f"none of the system groups {names} exists")


def _accounts() -> _Accounts:
    return _Accounts(
        mail_user=_existing_user("nobody"),
        mail_group=_existing_group("nogroup", "nobody"),
        internal_user=_existing_user("dovecot", "nobody"),
        login_user=_existing_user("dovenull", "nobody"),
    )


def _run(args: Sequence[str], cwd: Path | None = None) -> str:
    """Run a helper command; raise DovecotUnavailableError with its output when it fails."""
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DovecotUnavailableError(
            f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result.stdout


def make_private_dir() -> Path:
    """Make a temp dir every Dovecot process can enter (pytest's tmp_path is 0700)."""
    # Prefer /tmp: a long $TMPDIR could push unix socket paths past their 108-byte limit,
    # and one below a 0700 home directory is unreachable for the dropped privileges.
    base = "/tmp" if Path("/tmp").is_dir() else None
    root = Path(tempfile.mkdtemp(prefix="ikz-dovecot-", dir=base))
    root.chmod(0o755)
    for parent in root.parents:
        mode = parent.stat().st_mode
        if mode & 0o005 != 0o005:
            raise DovecotUnavailableError(
                f"{parent} is not world-accessible; Dovecot cannot use it"
            )
    return root


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """Write a self-signed CA and a server certificate for 127.0.0.1/localhost.

    Returns (ca_cert, server_cert, server_key).
    """
    directory.mkdir(mode=0o755)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run(
        ["openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2"]
        + ["-subj", "/CN=ikz-inbox test CA"]
        + ["-addext", "basicConstraints=critical,CA:TRUE"]
        + ["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        cwd=directory,
    )
    _run(
        ["openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr"]
        + ["-subj", "/CN=localhost"],
        cwd=directory,
    )
    (directory / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    _run(
        ["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key"]
        + ["-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext"],
        cwd=directory,
    )
    (directory / "ca.key").unlink()
    (directory / "ca.crt").chmod(0o644)
    return directory / "ca.crt", directory / "server.crt", directory / "server.key"


@dataclass(frozen=True)
class _Layout:
    """Where one server instance keeps its files."""

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def log(self) -> Path:
        return self.root / "dovecot.log"

    @property
    def tls(self) -> Path:
        return self.root / "tls"


def render_config(
    layout: _Layout,
    accounts: _Accounts,
    imap_port: int,
    imaps_port: int,
    imap_capability: str | None,
    password: str,
) -> str:
    """Return a complete dovecot.conf (Dovecot 2.3 syntax) for one private instance."""
    root = layout.root
    capability = f"imap_capability = {imap_capability}\n" if imap_capability else ""
    return f"""\
# Private Dovecot for the ikz-inbox integration tests; written by tests/integration/dovecot.py
protocols = imap
listen = {HOST}
base_dir = {root}/run
state_dir = {root}/state
instance_name = ikz-dovecot-{imap_port}
log_path = {layout.log}
info_log_path = {layout.log}
default_internal_user = {accounts.internal_user}
default_login_user = {accounts.login_user}
mail_uid = {accounts.mail_user}
mail_gid = {accounts.mail_group}
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:~/Maildir
mail_plugins =
ssl = yes
ssl_cert = <{layout.tls}/server.crt
ssl_key = <{layout.tls}/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
login_trusted_networks = 127.0.0.0/8
auth_mechanisms = plain login xoauth2 oauthbearer
# Answer a wrong password quickly (Dovecot still waits ~0.5 s); the 2 s default only
# slows the tests down.
auth_failure_delay = 0 secs
namespace inbox {{
  inbox = yes
  separator = /
}}
# Notice new mail within a second while a client IDLEs (inotify may miss nothing, but
# this bounds the wait), and say "still here" often enough to keep tests short.
mailbox_idle_check_interval = 1 secs
imap_idle_notify_interval = 10 secs
{capability}
passdb {{
  # Every user name logs in with this instance's password, so a test gets a fresh
  # account by picking a new name (a passwd-file is re-read at most once a second).
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = home={root}/home/%u
}}
# No brute-force penalty: tests log in with wrong passwords on purpose, and the penalty
# (2 s growing to 15 s per attempt from 127.0.0.1) would also delay every later login.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {imaps_port}
    ssl = yes
  }}
}}
"""


class DovecotServer:
    """One private Dovecot process with its config, certificates, users and mail."""

    host = HOST

    def __init__(self, layout: _Layout, imap_port: int, imaps_port: int, password: str) -> None:
        self._layout = layout
        self._password = password
        self.imap_port = imap_port
        self.imaps_port = imaps_port
        self._process: subprocess.Popen[bytes] | None = None
        self._user_count = 0

    @classmethod
    def create(cls, imap_capability: str | None = None) -> DovecotServer:
        """Write a fresh instance (certificates, config, mail folder) into a new temp dir.

        ``imap_capability`` replaces Dovecot's post-login CAPABILITY list, e.g. to play a
        server without MOVE or IDLE. Raises DovecotUnavailableError when this machine
        cannot run Dovecot.
        """
        reason = missing_requirements()
        if reason:
            raise DovecotUnavailableError(reason)
        layout = _Layout(make_private_dir())
        try:
            make_certificates(layout.tls)
            accounts = _accounts()
            home = layout.root / "home"
            home.mkdir(mode=0o755)
            shutil.chown(home, accounts.mail_user, accounts.mail_group)
            imap_port, imaps_port = free_port(), free_port()
            while imaps_port == imap_port:
                imaps_port = free_port()
            password = secrets.token_hex(12)
            config = render_config(
                layout, accounts, imap_port, imaps_port, imap_capability, password
            )
            layout.conf.write_text(config)
        except BaseException:
            shutil.rmtree(layout.root, ignore_errors=True)
            raise
        return cls(layout, imap_port, imaps_port, password)

    @property
    def root(self) -> Path:
        """The temp directory holding this instance's config, mail and log."""
        return self._layout.root

    @property
    def ca_file(self) -> Path:
        """The CA certificate that signed the server certificate."""
        return self._layout.tls / "ca.crt"

    @property
    def config_file(self) -> Path:
        """The dovecot.conf of this instance (for ``doveadm -c``)."""
        return self._layout.conf

    @property
    def running(self) -> bool:
        """True while the Dovecot master process is alive."""
        return self._process is not None and self._process.poll() is None

    def log_text(self) -> str:
        """Return the server log so far ("" when nothing was logged)."""
        try:
            return self._layout.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self) -> None:
        """Start Dovecot in the foreground and wait until both ports accept connections."""
        if self.running:
            return
        self._process = subprocess.Popen(
            ["dovecot", "-F", "-c", str(self._layout.conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # own process group, so stop() reaches every child
        )
        self._wait_until_listening()

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not self.running:
                raise DovecotUnavailableError(f"dovecot exited at start:\n{self.log_text()}")
            if imap_greets(self.imap_port) and port_accepts(self.imaps_port):
                return
            time.sleep(0.05)
        self.stop()
        raise DovecotUnavailableError(f"dovecot did not listen within {START_TIMEOUT}s")

    def stop(self) -> None:
        """Stop Dovecot and wait until its master and all its processes have exited.

        SIGTERM goes to the whole process group: Dovecot 2.3's master alone would leave
        the imap processes of open connections running, while a real restart or crash
        cuts them. What still runs after GRACE_SECONDS gets SIGKILL (a master whose
        children died first sometimes waits ~6 s for them).
        """
        process, self._process = self._process, None
        if process is None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)
        _wait_for_group_exit(process.pid)
        self._wait_until_closed()

    def _wait_until_closed(self) -> None:
        deadline = time.monotonic() + STOP_TIMEOUT
        while port_accepts(self.imap_port) or port_accepts(self.imaps_port):
            if time.monotonic() > deadline:
                raise RuntimeError("dovecot ports still open after the master exited")
            time.sleep(0.05)

    def restart(self) -> None:
        """Stop and start again on the same ports; open client connections are cut."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop the server and remove its temp directory."""
        self.stop()
        shutil.rmtree(self._layout.root, ignore_errors=True)

    def add_user(self, prefix: str = "user") -> ImapUser:
        """Return a new account (a name not used before): its mailbox is empty."""
        self._user_count += 1
        user = ImapUser(f"{prefix}{self._user_count}", self._password)
        return user

    @contextlib.contextmanager
    def client(self, user: ImapUser) -> Iterator[IMAPClient]:
        """Yield a logged-in plain-text IMAPClient for ``user`` (for setup and checks)."""
        client = IMAPClient(self.host, port=self.imap_port, ssl=False, timeout=CLIENT_TIMEOUT)
        with client:
            client.login(user.username, user.password)
            yield client

    def append(
        self, user: ImapUser, raw: bytes, folder: str = "INBOX", flags: Sequence[str] = ()
    ) -> None:
        """APPEND one message to ``folder`` (created when missing)."""
        with self.client(user) as client:
            _ensure_folder(client, folder)
            client.append(folder, raw, flags=tuple(flags))

    def append_many(self, user: ImapUser, raws: Iterable[bytes], folder: str = "INBOX") -> None:
        """Append many messages quickly with MULTIAPPEND, in chunks."""
        with self.client(user) as client:
            _ensure_folder(client, folder)
            chunk: list[bytes] = []
            for raw in raws:
                chunk.append(raw)
                if len(chunk) == APPEND_CHUNK:
                    client.multiappend(folder, chunk)
                    chunk = []
            if chunk:
                client.multiappend(folder, chunk)

    def message_count(self, user: ImapUser, folder: str = "INBOX") -> int:
        """Return how many messages ``folder`` holds (0 when it does not exist)."""
        with self.client(user) as client:
            if not client.folder_exists(folder):
                return 0
            status = client.folder_status(folder, [b"MESSAGES"])
            count: int = status[b"MESSAGES"]
            return count

    def uid_validity(self, user: ImapUser, folder: str = "INBOX") -> int:
        """Return the current UIDVALIDITY of ``folder``."""
        with self.client(user) as client:
            status = client.folder_status(folder, [b"UIDVALIDITY"])
            value: int = status[b"UIDVALIDITY"]
            return value

    def set_uid_validity(self, user: ImapUser, value: int, folder: str = "INBOX") -> None:
        """Force ``folder``'s UIDVALIDITY to ``value`` with doveadm (server must run)."""
        _run(
            ["doveadm", "-c", str(self._layout.conf), "mailbox", "update"]
            + ["-u", user.username, "--uid-validity", str(value), folder]
        )


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _live_group_members(pgid: int) -> list[int]:
    """PIDs in process group ``pgid`` that are not zombies (read from /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(stat.parent.name))
    return members


def _wait_for_group_exit(pgid: int) -> None:
    """Wait until every process of group ``pgid`` has exited; SIGKILL stragglers."""
    if _group_gone_within(pgid, STOP_TIMEOUT):
        return
    _signal_group(pgid, signal.SIGKILL)
    if not _group_gone_within(pgid, STOP_TIMEOUT):
        raise RuntimeError(f"dovecot processes {_live_group_members(pgid)} survive SIGKILL")


def _group_gone_within(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _live_group_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _ensure_folder(client: IMAPClient, folder: str) -> None:
    if not client.folder_exists(folder):
        client.create_folder(folder)


# What the ``dovecot_servers`` fixture returns: the running server for an optional
# CAPABILITY override.
ServerFactory = Callable[[str | None], DovecotServer]
