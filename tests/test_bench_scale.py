"""bench/scale.py end to end at a small size: both modes get every passage, stay consistent,
find answers, and the figures come out as promised (the 100k run is the README's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import stores

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(stores.SERVER, reason="the script starts its own Chroma "
                                 "server; once is enough")]
ROOT = Path(__file__).resolve().parents[1]


def test_scale_bench_builds_both_modes_and_reports_latency_and_hits(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "scale.py"), "--sizes", "150,300",
                          "--questions", "20", "--batch", "100",
                          "--eval", str(ROOT / "tests" / "data" / "squad-normans.json")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=1800)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [r["passages"] for r in rows] == [150, 300]
    for row in rows:
        for mode in ("disk", "server"):
            f = row[mode]
            assert f["chunks"] == row["passages"] and f["consistent"]
            assert f["disk_mb"] > 0 and 0 < f["p50_ms"] <= f["p95_ms"]
            assert f["keyword_rebuild_s"] > 0 and f["keyword_catchup_s"] > 0
            assert f["hit_at_5"] >= 0.5  # answers are found among the near-duplicates
        assert row["disk"]["hit_at_5"] == row["server"]["hit_at_5"]  # same index, same answers
    assert "| 300 | server |" in out.stdout
