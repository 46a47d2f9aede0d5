"""Which Chroma the tests use: on disk (default), or a real `chroma run` server per data dir.

`SOURCECHAT_TEST_CHROMA=server pytest` runs the same suite with every store behind a
Chroma server started on a free loopback port (its files in the data dir), so both
modes pass the very same tests. Each data dir gets its own server: two stores a test
keeps apart stay apart.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from tests.serving import free_port

MODE = os.environ.get("SOURCECHAT_TEST_CHROMA", "disk")
SERVER = MODE == "server"
_servers: dict[Path, tuple[subprocess.Popen, str]] = {}
_kept: set[Path] = set()  # data dirs of module/session fixtures: their servers outlive a test


def url_for(data_dir: str | os.PathLike) -> str | None:
    """The Chroma server URL for a data dir (started on first use), or None on disk."""
    if not SERVER:
        return None
    key = Path(data_dir).resolve()
    if key in _servers and _servers[key][0].poll() is None:
        return _servers[key][1]
    _servers[key] = start_server(key / "chroma-server")
    return _servers[key][1]


def start_server(path: Path, timeout: float = 60.0) -> tuple[subprocess.Popen, str]:
    """`chroma run` on a free loopback port, storing in `path`; returns (process, URL)."""
    path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    exe = Path(sys.executable).parent / "chroma"
    log = open(path / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen([str(exe), "run", "--path", str(path), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chroma run exited: {(path / 'server.log').read_text()[-500:]}")
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
            return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"chroma run did not answer on {url} within {timeout:.0f} s")


def settings(data_dir: str | os.PathLike, *, keep: bool = False, **kw):
    """Settings of an assistant on `data_dir` (extractive unless `llm=` says otherwise), its
    Chroma in the mode under test. `keep=True` for a module or session fixture's data dir:
    its server then outlives the test, until `release` (or the run's end)."""
    from assistant import Settings

    if keep:
        _kept.add(Path(data_dir).resolve())
    kw.setdefault("llm", "extractive")
    return Settings(data_dir=data_dir, chroma_url=url_for(data_dir), **kw)


def assistant(data_dir: str | os.PathLike, *, keep: bool = False, **kw):
    """A real assistant (real Chroma, real MiniLM) on `data_dir`: `settings` built."""
    from assistant import build_assistant

    return build_assistant(settings(data_dir, keep=keep, **kw))


@contextmanager
def kept(data_dir: str | os.PathLike, **kw):
    """A module fixture's assistant on `data_dir` (`assistant(..., keep=True)`): its server
    lives until the block ends."""
    try:
        yield assistant(data_dir, keep=True, **kw)
    finally:
        release(data_dir)


def release(data_dir: str | os.PathLike) -> None:
    """A kept data dir's fixture is done with it: its server stops now."""
    key = Path(data_dir).resolve()
    _kept.discard(key)
    stop(keep=_kept)


def stop(keep: set[Path] | None = None) -> None:
    """Stop the servers started so far, except those of kept data dirs (`keep`: these
    instead; pass an empty set to stop every one)."""
    keep = _kept if keep is None else keep
    for key in [k for k in _servers if k not in keep]:
        proc, _ = _servers.pop(key)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def client_for(data_dir: str | os.PathLike):
    """A chromadb client for the store of a data dir, in the mode under test."""
    import chromadb

    url = url_for(data_dir)
    if url is None:
        return chromadb.PersistentClient(path=str(Path(data_dir) / "chroma"),
                                         settings=chromadb.Settings(anonymized_telemetry=False))
    return client_at(url)


def client_at(url: str):
    """A new chromadb HTTP client for a `chroma run` server (each one, another host)."""
    import chromadb

    host, port = url.rsplit("//", 1)[1].split(":")
    return chromadb.HttpClient(host=host, port=int(port),
                               settings=chromadb.Settings(anonymized_telemetry=False))


def env_for(data_dir: str | os.PathLike) -> dict[str, str]:
    """Environment for a `sourcechat` subprocess using that data dir."""
    env = {"SOURCECHAT_DATA_DIR": str(data_dir)}
    url = url_for(data_dir)
    if url:
        env["SOURCECHAT_CHROMA_URL"] = url
    return env
