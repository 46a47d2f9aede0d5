"""Chroma server mode specifics (the rest of the suite runs in both modes)."""

from __future__ import annotations

from tests.serving import free_port
from ui.cli import main


def test_an_unreachable_chroma_server_is_one_clear_line(capsys):
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["--chroma-url", url, "sources"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (f"error: Cannot use the Chroma server at {url}: cannot connect. Is "
                    "`chroma run` running there? Check SOURCECHAT_CHROMA_URL (--chroma-url) "
                    "and SOURCECHAT_CHROMA_TOKEN.")


def test_a_malformed_chroma_url_is_refused(capsys):
    assert main(["--chroma-url", "ftp://x", "sources"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: invalid setting chroma_url:") and "http(s)://HOST:PORT" in line
