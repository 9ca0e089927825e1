"""Long-running subprocesses of the production tests, each in its own process group with its own log file.

``stop()`` sends a signal (SIGTERM unless told otherwise) to the group, then SIGKILL, and finally kills any
descendant that escaped the group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

from tests.helpers import ROOT


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"(no {path})"
    return "\n".join(text[-lines:])


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    children, found, todo = _children_map(), [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class ManagedProcess:
    """One long-running subprocess in its own process group, with its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        log_dir: Path,
        cwd: Path = ROOT,
        *,
        stop_signal: int = signal.SIGTERM,
        account: tuple[int, int] | None = None,
    ):
        """``account`` (uid, gid): run as that user, without supplementary groups (needs root)."""
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.stop_signal = stop_signal
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        as_user = {"user": account[0], "group": account[1], "extra_groups": []} if account else {}
        self.popen = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            **as_user,
        )
        log(f"started {name} (pid {self.popen.pid}): {' '.join(argv[1:4])}")

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 15.0) -> None:
        pid = self.popen.pid
        family = [pid, *descendants(pid)] if self.running() else descendants(pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, self.stop_signal)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(p) for p in family):
            with contextlib.suppress(ChildProcessError):
                self.popen.poll()
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        for other in family + descendants(pid):  # anything that left the group (setsid) but is ours
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(other, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
        self._log.close()
