"""Soak: the service under faults for a long while, then nothing lost, nothing twice.

Usage (as root, with Debian's dovecot-imapd installed):
    .venv/bin/python bench/bench_soak.py [--messages 20000] [--minutes 30] [--seed 18]

Starts a private Dovecot and `ikz-inbox run` (poll every 5 s, worker processes), delivers
``--messages`` generated messages spread over ``--minutes``, and meanwhile, at random
intervals of 15-60 s, SIGKILLs the whole service (then starts it again), SIGKILLs one of
its worker processes, or restarts Dovecot. Afterwards it lets the service drain and checks
that every message is stored exactly once and that none is left unflagged on the server.
Prints the fault counts and those figures; exit 1 when a check fails.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.dovecot import DovecotServer, ImapUser  # noqa: E402
from tests.integration.test_worker import PASSWORD_ENV, write_config  # noqa: E402

from bench.mailgen import generate_messages  # noqa: E402

FLAG = "$IKZProcessed"
# Seconds between faults: often enough to hit polls in every phase, rarely enough that
# the service makes progress between them.
FAULT_GAP = (15.0, 60.0)
DELIVERY_TICK = 2.0  # seconds between deliveries


@dataclass
class Soak:
    """The running pieces and what happened to them."""

    server: DovecotServer
    user: ImapUser
    config: Path
    db: Path
    service: subprocess.Popen[bytes] | None = None
    faults: Counter[str] = field(default_factory=Counter)
    server_lock: threading.Lock = field(default_factory=threading.Lock)
    delivered: int = 0

    def start_service(self) -> None:
        binary = str(Path(sys.executable).parent / "ikz-inbox")
        with (self.db.parent / "service.log").open("ab") as log:
            self.service = subprocess.Popen(
                [binary, "--config", str(self.config), "--db", f"sqlite:///{self.db}", "run"],
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )

    def kill_service(self) -> None:
        assert self.service is not None
        os.killpg(self.service.pid, signal.SIGKILL)
        self.service.wait()
        self.start_service()

    def kill_worker(self) -> bool:
        assert self.service is not None
        descendants = _descendants(self.service.pid)
        if not descendants:
            return False
        os.kill(random.choice(descendants), signal.SIGKILL)
        return True

    def restart_server(self, rng: random.Random) -> None:
        with self.server_lock:
            self.server.stop()
            time.sleep(rng.uniform(1.0, 5.0))
            self.server.start()


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def deliver(soak: Soak, messages: list[bytes], seconds: float, stop: threading.Event) -> None:
    """Append the messages in chunks spread evenly over ``seconds`` (never during a restart)."""
    ticks = max(1, int(seconds / DELIVERY_TICK))
    per_tick = -(-len(messages) // ticks)
    for start in range(0, len(messages), per_tick):
        if stop.wait(DELIVERY_TICK):
            return
        chunk = messages[start : start + per_tick]
        with soak.server_lock:
            soak.server.append_many(soak.user, chunk)
        soak.delivered += len(chunk)


def make_faults(soak: Soak, rng: random.Random, stop: threading.Event) -> None:
    while not stop.wait(rng.uniform(*FAULT_GAP)):
        fault = rng.choice(["kill-service", "kill-worker", "restart-dovecot"])
        if fault == "kill-service":
            soak.kill_service()
        elif fault == "kill-worker":
            if not soak.kill_worker():
                continue
        else:
            soak.restart_server(rng)
        soak.faults[fault] += 1
        assert soak.service is not None
        if soak.service.poll() is not None:  # exited by itself: a crash to count
            soak.faults["service-exited-by-itself"] += 1
            soak.start_service()


def stored(db: Path) -> tuple[int, int]:
    try:
        with sqlite3.connect(db) as connection:
            total, distinct = connection.execute(
                "SELECT COUNT(*), COUNT(DISTINCT content_sha256) FROM messages"
            ).fetchone()
    except sqlite3.Error:
        return 0, 0
    return int(total), int(distinct)


def unflagged(soak: Soak) -> int:
    with soak.server_lock, soak.server.client(soak.user) as client:
        client.select_folder("INBOX", readonly=True)
        return len(client.search(["UNKEYWORD", FLAG]))


def drain(soak: Soak, total: int, timeout: float) -> float:
    """Seconds until everything is stored and flagged (or the timeout)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        assert soak.service is not None
        if soak.service.poll() is not None:
            soak.faults["service-exited-by-itself"] += 1
            soak.start_service()
        if stored(soak.db)[1] >= total and unflagged(soak) == 0:
            break
        time.sleep(2)
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    server = DovecotServer.create()
    server.start()
    work = Path(tempfile.mkdtemp(prefix="ikz-soak-"))
    try:
        user = server.add_user("soak")
        os.environ[PASSWORD_ENV] = user.password
        config = write_config(work / "ikz.toml", server, user, poll_interval=5, batch_size=100)
        soak = Soak(server, user, config, work / "soak.sqlite3")
        messages = list(generate_messages(args.messages, seed=args.seed))
        soak.start_service()
        stop = threading.Event()
        started = time.monotonic()
        delivery = threading.Thread(
            target=deliver, args=(soak, messages, args.minutes * 60, stop), daemon=True
        )
        chaos = threading.Thread(target=make_faults, args=(soak, rng, stop), daemon=True)
        delivery.start()
        chaos.start()
        delivery.join()
        stop.set()
        chaos.join()
        soaked = time.monotonic() - started
        drained = drain(soak, args.messages, args.drain_timeout)
        total, distinct = stored(soak.db)
        left = unflagged(soak)
        assert soak.service is not None
        soak.service.send_signal(signal.SIGTERM)
        code = soak.service.wait(timeout=180)
    finally:
        server.cleanup()
    ok = total == distinct == args.messages and left == 0
    print(
        f"soak {soaked / 60:.1f} min, {soak.delivered} messages delivered; faults: "
        + ", ".join(f"{name} {count}" for name, count in sorted(soak.faults.items()))
    )
    print(
        f"drained {drained:.0f} s after the last delivery; stored {total} rows, {distinct} "
        f"distinct of {args.messages}; unflagged on the server {left}; SIGTERM exit {code}"
    )
    print(("OK" if ok else "FAILED") + f" (work folder {work})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
