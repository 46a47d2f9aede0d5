"""A real `sourcechat serve` in a subprocess on a free loopback port, for tests and benches."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_serve(workdir: Path, *args: str, env: dict | None = None, wait: float = 300.0,
                  prefix: Sequence[str] = ()):
    """Start `sourcechat serve ARGS` (its log in workdir/serve.log; `env`: variables set
    over this process's, None removing one; `prefix`: a command it runs under, which execs
    it); yields the URL."""
    port = free_port()
    exe = str(Path(sys.executable).with_name("sourcechat"))
    log_path = workdir / "serve.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*prefix, exe, "serve", "--port", str(port), *args],
                                env={k: v for k, v in {**os.environ, **(env or {})}.items()
                                     if v is not None}, stdout=log,
                                stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + wait  # a readiness wait, not a performance limit
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"serve exited: {log_path.read_text()[-2000:]}")
                try:
                    with urllib.request.urlopen(url, timeout=5) as r:
                        if r.status == 200:
                            break
                except urllib.error.HTTPError:
                    break  # it answers (a login page, say)
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"serve did not start within {wait:.0f} s")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
