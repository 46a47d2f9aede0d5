"""The command line's error lines, run as people run it (`python -m ui`) in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

MESSAGE = ("invalid settings: dense_weight and keyword_weight are both 0: retrieval needs at "
           "least one of them above 0")


def _ask_with_bad_settings(debug: str | None) -> subprocess.CompletedProcess:
    """A question under settings that cannot search (no model loads: it fails first)."""
    env = {k: v for k, v in os.environ.items() if k != "SOURCECHAT_DEBUG"}
    env.update(SOURCECHAT_DENSE_WEIGHT="0", SOURCECHAT_KEYWORD_WEIGHT="0")
    if debug is not None:
        env["SOURCECHAT_DEBUG"] = debug
    return subprocess.run(
        [sys.executable, "-m", "ui", "ask", "What?", "--llm", "extractive"], env=env,
        capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("debug", [None, "0"])
def test_an_error_is_one_line_without_debug(debug):
    done = _ask_with_bad_settings(debug)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == f"error: {MESSAGE}\n"


def test_sourcechat_debug_adds_the_traceback_after_the_line():
    done = _ask_with_bad_settings("1")
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0] == f"error: {MESSAGE}"
    assert lines[1] == "Traceback (most recent call last):"
    assert any('ui/cli.py", line' in line for line in lines)
    assert lines[-1] == f"corpus.errors.SourcechatError: {MESSAGE}"


def test_a_stream_without_its_answer_is_a_clear_error():
    from argparse import Namespace

    from corpus.errors import SourcechatError
    from ui.cli import _ask

    class Cut:
        def stream(self, question, history, k=None, sources=None):
            yield "A draft that never "

    args = Namespace(question="What?", k=None, sources=None, json=True)
    with pytest.raises(SourcechatError, match=r"^The assistant returned no answer"):
        _ask(Cut(), args)


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`sourcechat sources | head -1` style: the reader has gone, no error line."""
    env = {**os.environ, "SOURCECHAT_DATA_DIR": str(tmp_path)}
    read, write = os.pipe()
    os.close(read)  # every write to the pipe now fails with EPIPE
    try:
        done = subprocess.run([sys.executable, "-m", "ui", "sources"], env=env, text=True,
                              stdout=write, stderr=subprocess.PIPE, timeout=300)
    finally:
        os.close(write)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
