"""Re-ingesting a 1,000-file folder: first run vs unchanged vs a few files touched/edited.

Writes 1,000 small files (SQuAD dev paragraphs, the public evaluation text;
repeated with a copy number when there are fewer), then times with the console
script, each a fresh process as a user runs it:
(1) the first `sourcechat ingest`, (2) the same again, nothing changed,
(3) after touching 10 files (new mtime, same bytes), (4) after editing 10
files, and (5) `--sync` after deleting 10. Prints one JSON object.

    .venv/bin/python bench/reingest.py [--files 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EVAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "squad-dev-public.json"


def write_files(folder: Path, squad: Path, n: int) -> None:
    """`n` files of one SQuAD paragraph each."""
    paragraphs = [p["context"] for a in json.loads(squad.read_text())["data"]
                  for p in a["paragraphs"]]
    folder.mkdir(parents=True)
    for i in range(n):
        copy, j = divmod(i, len(paragraphs))
        text = paragraphs[j] if copy == 0 else f"{paragraphs[j]}\n\n(copy {copy})"
        (folder / f"para-{i:04d}.txt").write_text(text)


def timed_ingest(data: Path, folder: Path, *extra: str) -> dict:
    """Run `sourcechat ingest` in a fresh process; wall time and its summary line."""
    env = {**os.environ, "SOURCECHAT_DATA_DIR": str(data)}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ui", "ingest", str(folder), "--quiet",
                           *extra], env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    summary = done.stdout.strip().splitlines()[-1]
    inner = float(re.search(r"in ([\d.]+)s", summary).group(1))
    return {"wall_s": round(wall, 2), "ingest_s": inner, "summary": summary}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--eval", type=Path, default=EVAL)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sourcechat-reingest-"))
    folder, data = work / "docs", work / "data"
    write_files(folder, args.eval, args.files)
    result = {"files": args.files, "first": timed_ingest(data, folder)}
    result["unchanged"] = timed_ingest(data, folder)
    files = sorted(folder.iterdir())
    for f in files[:10]:
        os.utime(f)
    result["touched_10"] = timed_ingest(data, folder)
    for f in files[10:20]:
        f.write_text(f.read_text() + "\n\nAn added closing line.")
    result["edited_10"] = timed_ingest(data, folder)
    for f in files[20:30]:
        f.unlink()
    result["deleted_10_sync"] = timed_ingest(data, folder, "--sync")
    result["unchanged_fraction_of_first"] = round(
        result["unchanged"]["wall_s"] / result["first"]["wall_s"], 3)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
