"""Benchmark the IMAP worker against mbsync on the same private Dovecot mailbox.

Usage (as root, with Debian's dovecot-imapd and isync installed):
    .venv/bin/python bench/bench_worker.py [--count 10000] [--runs 3]

Prints, all measured in this run on this machine:
- mbsync (isync, default settings) downloading the mailbox to a Maildir: messages/s;
  and once more into a Maildir on tmpfs, to show how much of its rate is the disk;
- the full pipeline (`ikz-inbox poll --once`: fetch, parse, extract, classify, store,
  group) into a fresh SQLite file: messages/s, the ratio to mbsync, and peak memory: RSS
  of the main process, and RSS and PSS summed over the whole process tree (main, fork
  server, worker processes; PSS counts shared pages once), and the CPU seconds it used
  (main process, incl. imports and model loading, and worker processes) per message;
  both read over plain IMAP on loopback, so that TLS cost is not in the ratio;
- the same poll by a process that has loaded its models and started its worker processes
  already, as the running service (`ikz-inbox run`) has: messages/s (no start-up cost);
- an idle poll (nothing new): median wall time over repeated polls;
- IMAP IDLE delivery latency: APPEND from a second connection until the worker's IDLE
  wakes up, and until the message is committed in the database (medians).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.dovecot import DovecotServer, ImapUser  # noqa: E402
from tests.integration.test_worker import PASSWORD_ENV, write_config  # noqa: E402

from bench.mailgen import generate_messages  # noqa: E402
from ikz_inbox.app import open_app  # noqa: E402
from ikz_inbox.mailbox import Mailbox, credentials_for, mailbox_config_for  # noqa: E402
from ikz_inbox.polling import poll_mailbox  # noqa: E402
from ikz_inbox.worker import load_models  # noqa: E402


def run_mbsync(server: DovecotServer, user: ImapUser, work: Path) -> float:
    """Seconds mbsync needs to pull the whole INBOX into a fresh Maildir."""
    maildir = work / "mbsync-maildir"
    shutil.rmtree(maildir, ignore_errors=True)
    maildir.mkdir(parents=True)
    rc = work / "mbsyncrc"
    rc.write_text(
        f"IMAPAccount bench\nHost 127.0.0.1\nPort {server.imap_port}\nUser {user.username}\n"
        f"Pass {user.password}\nSSLType None\nAuthMechs LOGIN\n\n"
        "IMAPStore remote\nAccount bench\n\n"
        f"MaildirStore local\nPath {maildir}/\nInbox {maildir}/INBOX\n\n"
        "Channel inbox\nFar :remote:INBOX\nNear :local:INBOX\nCreate Near\nSync Pull\n"
        f"SyncState {work}/mbsync-state/\n"
    )
    shutil.rmtree(work / "mbsync-state", ignore_errors=True)
    (work / "mbsync-state").mkdir()
    started = time.perf_counter()
    subprocess.run(["mbsync", "-c", str(rc), "inbox"], check=True, capture_output=True)
    return time.perf_counter() - started


def print_mbsync_without_disk(server: DovecotServer, user: ImapUser, count: int) -> None:
    """mbsync again, same settings, into a Maildir on tmpfs: how much of its time above is
    the disk (by default it fsyncs every message), and so how much its rate depends on
    the machine's disk rather than on its CPUs."""
    shm = Path("/dev/shm")
    if not _is_tmpfs(shm):
        print("mbsync, Maildir on tmpfs:   skipped (no tmpfs at /dev/shm)")
        return
    work = Path(tempfile.mkdtemp(prefix="ikz-bench-", dir=shm))
    try:
        seconds = [run_mbsync(server, user, work) for _ in range(3)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"mbsync, Maildir on tmpfs:   {count / statistics.median(seconds):8.0f} messages/s "
        f"(median of 3: {statistics.median(seconds):.2f} s; the same defaults without a disk "
        "under its fsyncs)"
    )


def _is_tmpfs(path: Path) -> bool:
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return False
    return any(
        fields[1] == str(path) and fields[2] == "tmpfs"
        for fields in (line.split() for line in mounts)
        if len(fields) > 2
    )


@dataclass(frozen=True)
class PipelineRun:
    """One `ikz-inbox poll --once`: wall seconds, peak memory, and CPU seconds."""

    seconds: float
    main_rss: float  # MB, peak of the main process
    tree: TreeMemory  # peaks over the whole process tree
    cpu_total: float  # main process and its worker processes (user + system)
    cpu_main: float  # the main process alone


def run_pipeline(config: Path, db: Path) -> PipelineRun:
    """Time one `ikz-inbox poll --once` into a fresh database and sample its process tree
    (main, fork server, worker processes)."""
    db.unlink(missing_ok=True)
    binary = str(Path(sys.executable).parent / "ikz-inbox")
    started = time.perf_counter()
    process = subprocess.Popen(
        [binary, "--config", str(config), "--db", f"sqlite:///{db}", "poll", "--once"],
        stdout=subprocess.DEVNULL,
    )
    sampler = TreeSampler(process.pid)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)  # includes the reaped worker processes
    elapsed = time.perf_counter() - started
    sampler.stop()
    if status != 0:
        raise SystemExit(f"poll failed with status {status}")
    return PipelineRun(
        seconds=elapsed,
        main_rss=usage.ru_maxrss / 1024,
        tree=sampler.peak,
        cpu_total=usage.ru_utime + usage.ru_stime,
        cpu_main=sampler.root_cpu,
    )


@dataclass
class TreeMemory:
    """Peak sums over a process and its descendants, in MB, and the most processes seen."""

    rss: float = 0.0
    pss: float = 0.0
    processes: int = 0


class TreeSampler(threading.Thread):
    """Samples RSS and PSS (shared pages split between their users) of a process tree."""

    def __init__(self, root: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self._root, self._interval = root, interval
        self._done = threading.Event()
        self.peak = TreeMemory()
        self.root_cpu = 0.0  # CPU seconds of the root process at the last sample

    def run(self) -> None:
        while not self._done.wait(self._interval):
            pids = _descendants(self._root)
            self.root_cpu = max(self.root_cpu, _cpu_seconds(self._root))
            rss = sum(_memory_kb(pid, "Rss") for pid in pids) / 1024
            pss = sum(_memory_kb(pid, "Pss") for pid in pids) / 1024
            self.peak = TreeMemory(
                max(self.peak.rss, rss),
                max(self.peak.pss, pss),
                max(self.peak.processes, len(pids)),
            )

    def stop(self) -> None:
        self._done.set()
        self.join()


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _memory_kb(pid: int, field: str) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def warm_poll_seconds(config: Path, db: Path, count: int) -> float:
    """Seconds of one poll of the whole mailbox into a fresh database by a process whose
    worker processes and models are loaded already, as in the running service
    (`ikz-inbox run` loads them once at start)."""
    db.unlink(missing_ok=True)
    app = open_app(config, f"sqlite:///{db}")
    try:
        load_models(app)
        started = time.perf_counter()
        result = poll_mailbox(app, app.settings.mailboxes[0])
        elapsed = time.perf_counter() - started
    finally:
        app.close()
    if result.summary.stored != count:
        raise SystemExit(f"warm poll stored {result.summary.stored} of {count} messages")
    return elapsed


def idle_poll_times(config: Path, db: Path, runs: int) -> list[float]:
    app = open_app(config, f"sqlite:///{db}")
    section = app.settings.mailboxes[0]
    poll_mailbox(app, section)  # warm up: models loaded, everything already stored
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = poll_mailbox(app, section)
        times.append(time.perf_counter() - started)
        assert result.summary.stored == 0
    return times


def idle_latencies(
    server: DovecotServer, user: ImapUser, config: Path, db: Path, runs: int
) -> tuple[list[float], list[float]]:
    app = open_app(config, f"sqlite:///{db}")
    section = app.settings.mailboxes[0]
    poll_mailbox(app, section)
    wake, stored = [], []
    samples = generate_messages(runs, seed=99)
    with Mailbox(mailbox_config_for(section), credentials_for(section, os.environ)) as mailbox:
        mailbox.select()
        for raw in samples:
            appended_at: list[float] = []

            def append(message: bytes = raw, stamps: list[float] = appended_at) -> None:
                time.sleep(0.3)
                stamps.append(time.perf_counter())
                server.append(user, message)

            thread = threading.Thread(target=append)
            thread.start()
            assert mailbox.idle_wait(30)
            woke = time.perf_counter()
            thread.join()
            poll_mailbox(app, section)
            done = time.perf_counter()
            wake.append(woke - appended_at[0])
            stored.append(done - appended_at[0])
    return wake, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=200, help="[imap] batch_size")
    args = parser.parse_args()
    if shutil.which("mbsync") is None:
        raise SystemExit("mbsync missing: apt-get install isync")
    server = DovecotServer.create()
    server.start()
    work = Path(tempfile.mkdtemp(prefix="ikz-bench-"))
    try:
        user = server.add_user("bench")
        os.environ[PASSWORD_ENV] = user.password
        started = time.perf_counter()
        server.append_many(user, generate_messages(args.count, seed=2024))
        print(f"appended {args.count} messages in {time.perf_counter() - started:.1f} s")
        print(
            f"interpreter: Python {platform.python_version()} from {getattr(sys, '_base_executable', sys.executable)}"
        )
        # Both read over the same transport: plain IMAP on loopback (mbsync: SSLType None).
        config = write_config(
            work / "ikz.toml",
            server,
            user,
            post_action="none",
            batch_size=args.batch_size,
            security="plain",
            port=server.imap_port,
        )
        mbsync, pipeline = [], []
        for _ in range(args.runs):  # alternating, so that drift in the machine hits both
            mbsync.append(run_mbsync(server, user, work))
            pipeline.append(run_pipeline(config, work / "bench.sqlite3"))
        seconds = [run.seconds for run in pipeline]
        mbsync_rate = args.count / statistics.median(mbsync)
        pipe_rate = args.count / statistics.median(seconds)
        print(
            f"mbsync (isync, defaults):   {mbsync_rate:8.0f} messages/s "
            f"(median of {args.runs}: {statistics.median(mbsync):.1f} s; runs "
            + ", ".join(f"{t:.1f}" for t in mbsync)
            + ")"
        )
        print(
            f"ikz-inbox full pipeline:    {pipe_rate:8.0f} messages/s "
            f"(median of {args.runs}: {statistics.median(seconds):.1f} s; runs "
            + ", ".join(f"{t:.1f}" for t in seconds)
            + ")"
        )
        print(f"ratio pipeline / mbsync:    {pipe_rate / mbsync_rate:8.2f} (medians)")
        best = min(mbsync) / min(seconds)
        print(f"ratio of the best runs:     {best:8.2f} (mbsync varies with the disk: it fsyncs)")
        print_mbsync_without_disk(server, user, args.count)
        cpu_total = statistics.median(run.cpu_total for run in pipeline)
        cpu_main = statistics.median(run.cpu_main for run in pipeline)
        print(
            f"CPU of the pipeline:        {cpu_total / args.count * 1000:8.2f} ms/message "
            f"(median {cpu_total:.1f} s: main process {cpu_main:.1f} s incl. start-up, "
            f"worker processes {cpu_total - cpu_main:.1f} s; {os.cpu_count()} CPUs)"
        )
        trees = [run.tree for run in pipeline]
        print(
            f"peak memory (max of runs):  main process RSS {max(r.main_rss for r in pipeline):.0f} MB; "
            f"whole process tree ({max(m.processes for m in trees)} processes) "
            f"RSS {max(m.rss for m in trees):.0f} MB, PSS {max(m.pss for m in trees):.0f} MB"
        )
        warm = [
            warm_poll_seconds(config, work / "warm.sqlite3", args.count)
            for _ in range(min(args.runs, 3))
        ]
        warm_rate = args.count / statistics.median(warm)
        print(
            f"same, service already up:   {warm_rate:8.0f} messages/s "
            f"(models and worker processes loaded before the clock starts; median of "
            f"{len(warm)}: {statistics.median(warm):.1f} s; ratio to mbsync "
            f"{warm_rate / mbsync_rate:.2f} (medians), {min(mbsync) / min(warm):.2f} (best runs))"
        )
        idle = idle_poll_times(config, work / "bench.sqlite3", runs=20)
        print(
            f"idle poll (nothing new):    median {statistics.median(idle) * 1000:.1f} ms "
            f"over {len(idle)} polls"
        )
        wake, stored = idle_latencies(server, user, config, work / "bench.sqlite3", runs=10)
        print(
            f"IDLE wake-up after APPEND:  median {statistics.median(wake):.2f} s, "
            f"max {max(wake):.2f} s"
        )
        print(
            f"APPEND to committed in DB:  median {statistics.median(stored):.2f} s, "
            f"max {max(stored):.2f} s"
        )
    finally:
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
