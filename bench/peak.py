"""Run a command and measure its own peak memory (issue 13: "peak RSS ≤ 400 MB whatever the file size").

Linux charges a process with the resident set of the image it was exec'd from: `subprocess` starts a
child by (v)forking the caller, and at exec the kernel keeps the caller's high-water mark as the
child's `ru_maxrss`. The benchmark's parent holds the generated registry's bookkeeping (hundreds of
MB at 1,000,000 passes), so the import it started reported the parent's size as its own peak
(375-400 MB "growing with the registry"; the import itself stays near 150 MB). Started from this
small process instead, the command's `ru_maxrss` is its own.

    python bench/peak.py OUT.json COMMAND...   # writes {"maxrss_kb", "cpu_seconds", "exit_code"}
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measured(command: list[str], *, env: dict[str, str] | None = None, cwd=None, stdout=None) -> dict:
    """Run `command` through this module; its wall seconds, peak RSS (MB), CPU seconds, exit code."""
    with tempfile.TemporaryDirectory(prefix="campuspass-peak-") as folder:
        out = Path(folder) / "peak.json"
        started = time.perf_counter()
        subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, str(Path(__file__).resolve()), str(out), *command],
            env=env,
            cwd=cwd,
            stdout=stdout,
            check=False,
        )
        seconds = time.perf_counter() - started
        data = json.loads(out.read_text())
    return {
        "seconds": seconds,
        "peak_rss_mb": data["maxrss_kb"] / 1024,
        "cpu_seconds": data["cpu_seconds"],
        "exit_code": data["exit_code"],
    }


def main(argv: list[str]) -> int:
    out, command = argv[0], argv[1:]
    proc = subprocess.Popen(command)  # noqa: S603 - the caller's command
    _, status, usage = os.wait4(proc.pid, 0)
    Path(out).write_text(
        json.dumps(
            {
                "maxrss_kb": usage.ru_maxrss,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "exit_code": os.waitstatus_to_exitcode(status),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
