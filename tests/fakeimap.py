"""A small in-memory IMAP4rev1 server on a loopback port, for fast mailbox tests.

It speaks the protocol subset ``ikz_inbox.mailbox`` uses through imapclient: CAPABILITY,
LOGIN, AUTHENTICATE XOAUTH2, SELECT/EXAMINE (UIDVALIDITY, UIDNEXT, PERMANENTFLAGS),
LIST, CREATE, UID SEARCH, UID FETCH (UID, FLAGS, RFC822.SIZE, BODY[]/BODY.PEEK[]),
UID STORE, UID COPY, UID MOVE, UID EXPUNGE, EXPUNGE, NOOP, IDLE/DONE and LOGOUT. Folders
live in memory; a test appends mail, changes a folder's UIDVALIDITY or capabilities and
reads back flags, folders and the commands the client sent. The Dovecot tests in
tests/integration check the same code against a real server.
"""

from __future__ import annotations

import base64
import re
import socket
import socketserver
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

HOST = "127.0.0.1"
# Seconds between the checks for new mail while a client IDLEs.
IDLE_TICK = 0.02
# Every capability the server announces after login unless a test removes some.
FULL_CAPABILITIES = ("IMAP4rev1", "IDLE", "MOVE", "UIDPLUS", "LITERAL+")
_SYSTEM_FLAGS = (b"\\Answered", b"\\Flagged", b"\\Deleted", b"\\Seen", b"\\Draft")
_TOKEN = re.compile(rb'\(|\)|"(?:[^"\\]|\\.)*"|[^\s()"]+')


@dataclass
class FakeMessage:
    """One stored message: its UID, bytes and flags."""

    uid: int
    raw: bytes
    flags: set[bytes] = field(default_factory=set)


@dataclass
class FakeFolder:
    """One folder: UIDVALIDITY, the next UID and the messages in sequence order."""

    uidvalidity: int
    uidnext: int = 1
    messages: list[FakeMessage] = field(default_factory=list)

    def add(self, raw: bytes, flags: Sequence[bytes] = ()) -> int:
        uid = self.uidnext
        self.uidnext += 1
        self.messages.append(FakeMessage(uid, raw, set(flags)))
        return uid

    def uids(self) -> list[int]:
        return [message.uid for message in self.messages]


class FakeImapServer:
    """The server and its mail; use as a context manager (it listens until the end)."""

    def __init__(
        self,
        username: str = "ikz",
        password: str = "geheim-123",
        capabilities: Sequence[str] = FULL_CAPABILITIES,
        permanent_flags: Sequence[bytes] | None = (*_SYSTEM_FLAGS, b"\\*"),
    ) -> None:
        self.username = username
        self.password = password
        self.capabilities = tuple(capabilities)
        # None: the SELECT answer has no PERMANENTFLAGS (every flag may be stored).
        self.permanent_flags = permanent_flags
        self.folders: dict[str, FakeFolder] = {"INBOX": FakeFolder(uidvalidity=1000)}
        self.commands: list[str] = []  # "UID FETCH", "LOGIN", ... in the order received
        self.drop_on: str | None = None  # cut the connection when this command arrives
        self.changed = threading.Condition()
        self._next_uidvalidity = 2000
        self._server = _TCPServer((HOST, 0), _Session)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": IDLE_TICK}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- what a test does to the mailbox ----------------------------------------------

    def append(self, raw: bytes, folder: str = "INBOX", flags: Sequence[bytes] = ()) -> int:
        """Store a message (creating ``folder``) and return its UID."""
        with self.changed:
            uid = self.folder(folder, create=True).add(raw, flags)
            self.changed.notify_all()
        return uid

    def folder(self, name: str, *, create: bool = False) -> FakeFolder:
        """The folder ``name``; KeyError when it does not exist and ``create`` is False."""
        if name not in self.folders and create:
            self._next_uidvalidity += 1
            self.folders[name] = FakeFolder(uidvalidity=self._next_uidvalidity)
        return self.folders[name]

    def set_uid_validity(self, value: int, folder: str = "INBOX") -> None:
        """Give ``folder`` a new UIDVALIDITY and renumber its messages from UID 1."""
        with self.changed:
            box = self.folders[folder]
            box.uidvalidity, box.uidnext = value, 1
            for message in box.messages:
                message.uid = box.uidnext
                box.uidnext += 1

    def expunge(self, uid: int, folder: str = "INBOX") -> None:
        """Remove one message as another client would."""
        with self.changed:
            box = self.folders[folder]
            box.messages = [m for m in box.messages if m.uid != uid]

    def flags(self, uid: int, folder: str = "INBOX") -> set[bytes]:
        """The flags of message ``uid`` in ``folder``."""
        return next(m.flags for m in self.folders[folder].messages if m.uid == uid)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeImapServer


class _Disconnect(Exception):
    """The session ends (LOGOUT, a dropped connection or the client went away)."""


class _Session(socketserver.BaseRequestHandler):
    """One client connection: reads tagged commands, writes IMAP responses."""

    server: _TCPServer

    def setup(self) -> None:
        self.fake = self.server.fake
        self.buffer = b""
        self.user: str | None = None
        self.selected: str | None = None
        self.readonly = False
        self.reported = 0  # EXISTS count the client was told last

    def handle(self) -> None:
        self.send(f"* OK [CAPABILITY {self._capabilities()}] fake IMAP ready")
        try:
            while True:
                line = self.read_line(timeout=None)
                tag, _, rest = line.partition(b" ")
                tokens = _tokens(rest)
                if not tokens:
                    self.send(f"{tag.decode()} BAD empty command")
                    continue
                self.dispatch(tag.decode(), tokens)
        except (_Disconnect, OSError):
            pass

    # -- wire --------------------------------------------------------------------------

    def send(self, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        self.request.sendall(data + b"\r\n")

    def read_line(self, timeout: float | None) -> bytes:
        """The next CRLF-terminated line; TimeoutError after ``timeout`` without one."""
        self.request.settimeout(timeout)
        while b"\r\n" not in self.buffer:
            chunk = self.request.recv(65536)  # TimeoutError after ``timeout``
            if not chunk:
                raise _Disconnect
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    # -- commands ----------------------------------------------------------------------

    def dispatch(self, tag: str, tokens: list[object]) -> None:
        name = str(tokens[0]).upper()
        args = tokens[1:]
        if name == "UID" and args:
            name, args = f"UID {str(args[0]).upper()}", args[1:]
        self.fake.commands.append(name)
        if self.fake.drop_on == name:
            self.request.shutdown(socket.SHUT_RDWR)
            raise _Disconnect
        handler = _HANDLERS.get(name)
        if handler is None:
            self.send(f"{tag} BAD unknown command {name}")
            return
        if name not in _BEFORE_LOGIN and self.user is None:
            self.send(f"{tag} NO log in first")
            return
        if name in _NEED_SELECTED and self.selected is None:
            self.send(f"{tag} BAD no folder selected")
            return
        handler(self, tag, args)

    def _capabilities(self) -> str:
        if self.user is None:
            return "IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2"
        return " ".join(self.fake.capabilities)

    def cmd_capability(self, tag: str, args: list[object]) -> None:
        self.send(f"* CAPABILITY {self._capabilities()}")
        self.send(f"{tag} OK CAPABILITY completed")

    def cmd_noop(self, tag: str, args: list[object]) -> None:
        self._report_new_mail()
        self.send(f"{tag} OK NOOP completed")

    def cmd_logout(self, tag: str, args: list[object]) -> None:
        self.send("* BYE logging out")
        self.send(f"{tag} OK LOGOUT completed")
        raise _Disconnect

    def cmd_login(self, tag: str, args: list[object]) -> None:
        username, password = (str(a) for a in args[:2])
        self._logged_in(tag, username, ok=password == self.fake.password)

    def cmd_authenticate(self, tag: str, args: list[object]) -> None:
        if str(args[0]).upper() != "XOAUTH2":
            self.send(f"{tag} NO unsupported mechanism")
            return
        self.send("+ ")
        answer = base64.b64decode(self.read_line(timeout=10))
        fields = dict(part.split(b"=", 1) for part in answer.split(b"\x01") if b"=" in part)
        username = fields.get(b"user", b"").decode()
        token = fields.get(b"auth", b"").removeprefix(b"Bearer ").decode()
        self._logged_in(tag, username, ok=token == self.fake.password)

    def _logged_in(self, tag: str, username: str, *, ok: bool) -> None:
        if not ok or username != self.fake.username:
            self.send(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed.")
            return
        self.user = username
        self.send(f"{tag} OK [CAPABILITY {self._capabilities()}] Logged in")

    def cmd_select(self, tag: str, args: list[object], *, readonly: bool = False) -> None:
        name = str(args[0])
        if name not in self.fake.folders:
            self.selected = None
            self.send(f"{tag} NO Mailbox doesn't exist: {name}")
            return
        box = self.fake.folders[name]
        self.selected, self.readonly = name, readonly
        self.reported = len(box.messages)
        self.send(f"* FLAGS ({_flag_list(_SYSTEM_FLAGS)})")
        if self.fake.permanent_flags is not None:
            self.send(f"* OK [PERMANENTFLAGS ({_flag_list(self.fake.permanent_flags)})] Flags")
        self.send(f"* {len(box.messages)} EXISTS")
        self.send("* 0 RECENT")
        self.send(f"* OK [UIDVALIDITY {box.uidvalidity}] UIDs valid")
        self.send(f"* OK [UIDNEXT {box.uidnext}] Predicted next UID")
        mode = "READ-ONLY" if readonly else "READ-WRITE"
        self.send(f"{tag} OK [{mode}] Select completed")

    def cmd_examine(self, tag: str, args: list[object]) -> None:
        self.cmd_select(tag, args, readonly=True)

    def cmd_list(self, tag: str, args: list[object]) -> None:
        pattern = str(args[1]) if len(args) > 1 else "*"
        for name in sorted(self.fake.folders):
            if pattern in ("*", "%") or pattern == name:
                self.send(f'* LIST (\\HasNoChildren) "/" "{name}"')
        self.send(f"{tag} OK LIST completed")

    def cmd_create(self, tag: str, args: list[object]) -> None:
        name = str(args[0])
        if name in self.fake.folders:
            self.send(f"{tag} NO [ALREADYEXISTS] Mailbox already exists")
            return
        with self.fake.changed:
            self.fake.folder(name, create=True)
        self.send(f"{tag} OK CREATE completed")

    def cmd_uid_search(self, tag: str, args: list[object]) -> None:
        box = self._box()
        found = box.uids()
        words = [str(a).upper() for a in args]
        if words[:1] == ["UID"] and len(args) > 1:
            found = _uid_set(str(args[1]), box.uids())
        elif words not in (["ALL"], []):
            self.send(f"{tag} BAD the fake searches only UID <set> and ALL")
            return
        self.send(" ".join(["* SEARCH", *(str(uid) for uid in found)]))
        self.send(f"{tag} OK SEARCH completed")

    def cmd_uid_fetch(self, tag: str, args: list[object]) -> None:
        box = self._box()
        wanted = set(_uid_set(str(args[0]), box.uids()))
        items = args[1] if isinstance(args[1], list) else [args[1]]
        names = [str(item).upper() for item in items]
        for seq, message in enumerate(box.messages, start=1):
            if message.uid not in wanted:
                continue
            parts = [f"UID {message.uid}".encode()]
            for item in names:
                if item == "RFC822.SIZE":
                    parts.append(f"RFC822.SIZE {len(message.raw)}".encode())
                elif item == "FLAGS":
                    parts.append(f"FLAGS ({_flag_list(message.flags)})".encode())
                elif item in ("BODY[]", "BODY.PEEK[]", "RFC822"):
                    label = "RFC822" if item == "RFC822" else "BODY[]"
                    parts.append(f"{label} {{{len(message.raw)}}}\r\n".encode() + message.raw)
                    if item != "BODY.PEEK[]":
                        message.flags.add(b"\\Seen")
                elif item != "UID":
                    self.send(f"{tag} BAD the fake cannot fetch {item}")
                    return
            self.send(f"* {seq} FETCH (".encode() + b" ".join(parts) + b")")
        self.send(f"{tag} OK FETCH completed")

    def cmd_uid_store(self, tag: str, args: list[object]) -> None:
        if self.readonly:
            self.send(f"{tag} NO mailbox is read-only")
            return
        box = self._box()
        wanted = set(_uid_set(str(args[0]), box.uids()))
        mode = str(args[1]).upper()
        values = args[2] if isinstance(args[2], list) else args[2:]
        flags = {str(flag).encode() for flag in values}
        for seq, message in enumerate(box.messages, start=1):
            if message.uid not in wanted:
                continue
            if mode.startswith("+"):
                message.flags |= flags
            elif mode.startswith("-"):
                message.flags -= flags
            else:
                message.flags = set(flags)
            if not mode.endswith(".SILENT"):
                flag_text = _flag_list(message.flags)
                self.send(f"* {seq} FETCH (UID {message.uid} FLAGS ({flag_text}))")
        self.send(f"{tag} OK STORE completed")

    def cmd_uid_copy(self, tag: str, args: list[object], *, move: bool = False) -> None:
        box = self._box()
        target_name = str(args[1])
        if target_name not in self.fake.folders:
            self.send(f"{tag} NO [TRYCREATE] Mailbox doesn't exist: {target_name}")
            return
        target = self.fake.folders[target_name]
        wanted = set(_uid_set(str(args[0]), box.uids()))
        with self.fake.changed:
            moved = [m for m in box.messages if m.uid in wanted]
            new_uids = [target.add(m.raw, sorted(m.flags - {b"\\Deleted"})) for m in moved]
            self.fake.changed.notify_all()
        code = ""
        if moved and "UIDPLUS" in self.fake.capabilities:
            source = ",".join(str(m.uid) for m in moved)
            code = f"[COPYUID {target.uidvalidity} {source} {','.join(map(str, new_uids))}] "
        if move:
            self.send(f"* OK {code}Moved")
            self._remove(lambda m: m.uid in wanted)
            self.send(f"{tag} OK MOVE completed")
        else:
            self.send(f"{tag} OK {code}COPY completed")

    def cmd_uid_move(self, tag: str, args: list[object]) -> None:
        if "MOVE" not in self.fake.capabilities:
            self.send(f"{tag} BAD unknown command UID MOVE")
            return
        self.cmd_uid_copy(tag, args, move=True)

    def cmd_uid_expunge(self, tag: str, args: list[object]) -> None:
        if "UIDPLUS" not in self.fake.capabilities:
            self.send(f"{tag} BAD unknown command UID EXPUNGE")
            return
        wanted = set(_uid_set(str(args[0]), self._box().uids()))
        self._remove(lambda m: m.uid in wanted and b"\\Deleted" in m.flags)
        self.send(f"{tag} OK EXPUNGE completed")

    def cmd_expunge(self, tag: str, args: list[object]) -> None:
        self._remove(lambda m: b"\\Deleted" in m.flags)
        self.send(f"{tag} OK EXPUNGE completed")

    def cmd_idle(self, tag: str, args: list[object]) -> None:
        self.send("+ idling")
        while True:
            self._report_new_mail()
            try:
                line = self.read_line(timeout=IDLE_TICK)
            except TimeoutError:
                continue
            if line.strip().upper() == b"DONE":
                self.send(f"{tag} OK IDLE terminated")
                return
            self.send(f"{tag} BAD expected DONE")
            return

    # -- helpers -----------------------------------------------------------------------

    def _box(self) -> FakeFolder:
        assert self.selected is not None
        return self.fake.folders[self.selected]

    def _report_new_mail(self) -> None:
        if self.selected is None:
            return
        count = len(self._box().messages)
        if count != self.reported:
            self.reported = count
            self.send(f"* {count} EXISTS")

    def _remove(self, doomed: Callable[[FakeMessage], bool]) -> None:
        box = self._box()
        with self.fake.changed:
            for seq in range(len(box.messages), 0, -1):
                if doomed(box.messages[seq - 1]):
                    del box.messages[seq - 1]
                    self.send(f"* {seq} EXPUNGE")
        self.reported = len(box.messages)


_HANDLERS = {
    "CAPABILITY": _Session.cmd_capability,
    "NOOP": _Session.cmd_noop,
    "LOGOUT": _Session.cmd_logout,
    "LOGIN": _Session.cmd_login,
    "AUTHENTICATE": _Session.cmd_authenticate,
    "SELECT": _Session.cmd_select,
    "EXAMINE": _Session.cmd_examine,
    "LIST": _Session.cmd_list,
    "CREATE": _Session.cmd_create,
    "UID SEARCH": _Session.cmd_uid_search,
    "UID FETCH": _Session.cmd_uid_fetch,
    "UID STORE": _Session.cmd_uid_store,
    "UID COPY": _Session.cmd_uid_copy,
    "UID MOVE": _Session.cmd_uid_move,
    "UID EXPUNGE": _Session.cmd_uid_expunge,
    "EXPUNGE": _Session.cmd_expunge,
    "IDLE": _Session.cmd_idle,
}
_BEFORE_LOGIN = {"CAPABILITY", "NOOP", "LOGOUT", "LOGIN", "AUTHENTICATE"}
_NEED_SELECTED = {name for name in _HANDLERS if name.startswith("UID ")} | {"EXPUNGE", "IDLE"}


def _tokens(line: bytes) -> list[object]:
    """Split a command's arguments: atoms and quoted strings as str, (...) as a list."""
    stack: list[list[object]] = [[]]
    for match in _TOKEN.finditer(line):
        token = match.group()
        if token == b"(":
            stack.append([])
        elif token == b")" and len(stack) > 1:
            inner = stack.pop()
            stack[-1].append(inner)
        elif token.startswith(b'"'):
            stack[-1].append(re.sub(rb"\\(.)", rb"\1", token[1:-1]).decode())
        else:
            stack[-1].append(token.decode())
    return stack[0]


def _uid_set(text: str, existing: Sequence[int]) -> list[int]:
    """The existing UIDs an IMAP sequence set names; ``*`` is the highest existing UID,
    so ``n:*`` also names that one when nothing is above ``n`` (RFC 3501 6.4.8)."""
    if not existing:
        return []
    highest = max(existing)
    chosen: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition(":")
        first = highest if low == "*" else int(low)
        last = first if not high else (highest if high == "*" else int(high))
        chosen.update(uid for uid in existing if min(first, last) <= uid <= max(first, last))
    return sorted(chosen)


def _flag_list(flags: Sequence[bytes] | set[bytes]) -> str:
    return " ".join(sorted(flag.decode() for flag in flags))
