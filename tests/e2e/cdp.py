"""Drive headless Chromium over the DevTools protocol on a pipe (no extra packages).

``load_page`` opens a URL in a fresh profile with the network blocked, and returns every
request the page made, its console errors and uncaught exceptions, and a PNG screenshot
of the whole page. Messages on the pipe are JSON separated by NUL bytes
(``--remote-debugging-pipe``: Chromium reads commands on fd 3 and writes on fd 4).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Seconds a page may take to load and settle before the test gives up.
LOAD_TIMEOUT = 60.0


@dataclass
class PageReport:
    """What loading a page showed."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    screenshot: bytes = b""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


class _Pipe:
    def __init__(self, process: subprocess.Popen[bytes], write_fd: int, read_fd: int) -> None:
        self.process, self.write_fd, self.read_fd = process, write_fd, read_fd
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def receive(self) -> dict[str, Any]:
        deadline = time.monotonic() + LOAD_TIMEOUT
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self.read_fd, 65536)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def wait_for(self, method: str) -> None:
        while not any(event.get("method") == method for event in self.events):
            self.events.append(self.receive())


def load_page(browser: str, url: str, profile: Path, width: int = 1100) -> PageReport:
    """Load ``url`` with every network request failing; report requests, errors, PNG."""
    to_child, from_parent = os.pipe()
    to_parent, from_child = os.pipe()

    def wire() -> None:  # in the child: commands on fd 3, answers on fd 4
        os.dup2(to_child, 3)
        os.dup2(from_child, 4)

    process = subprocess.Popen(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        # 3 and 4 are kept open through close_fds after ``wire`` made them the pipe ends.
        pass_fds=(3, 4, to_child, from_child),
        preexec_fn=wire,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(to_child)
    os.close(from_child)
    pipe = _Pipe(process, from_parent, to_parent)
    try:
        return _inspect(pipe, url, width)
    finally:
        process.kill()
        process.wait(timeout=30)
        os.close(from_parent)
        os.close(to_parent)


def _inspect(pipe: _Pipe, url: str, width: int) -> PageReport:
    target = pipe.send("Target.createTarget", url="about:blank")["targetId"]
    session = pipe.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        pipe.send(f"{domain}.enable", session)
    # Any request other than the page itself fails here, and is recorded below.
    pipe.send("Network.setBlockedURLs", session, urls=["http://*", "https://*", "ws*://*"])
    pipe.send(
        "Emulation.setDeviceMetricsOverride",
        session,
        width=width,
        height=1400,
        deviceScaleFactor=1,
        mobile=False,
    )
    pipe.events.clear()
    pipe.send("Page.navigate", session, url=url)
    pipe.wait_for("Page.loadEventFired")
    metrics = pipe.send("Page.getLayoutMetrics", session)["cssContentSize"]
    shot = pipe.send(
        "Page.captureScreenshot",
        session,
        format="png",
        captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": width, "height": metrics["height"], "scale": 1},
    )
    return _report(pipe.events, base64.b64decode(shot["data"]))


def _report(events: list[dict[str, Any]], screenshot: bytes) -> PageReport:
    report = PageReport(screenshot=screenshot)
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            report.requests.append(params["request"]["url"])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            report.console_errors.append(json.dumps(params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            report.console_errors.append(json.dumps(params.get("exceptionDetails", {})))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            report.console_errors.append(params["entry"].get("text", ""))
    return report
