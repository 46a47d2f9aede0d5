"""Uploaded files: checked (type, size, readable), stored under the data dir with safe names."""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

from corpus import SUPPORTED_SUFFIXES, LoadError, load_file

_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


def safe_name(name: str) -> str:
    """A file name that cannot leave its folder: no separators, no leading dots."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").split("/")[-1])
    base = _UNSAFE.sub("_", base).strip(" .")
    return base[:200] or "upload"


def accept(upload: str | Path, uploads_dir: Path, max_mb: float) -> tuple[Path | None, str]:
    """Check one uploaded file and store it; returns (stored path or None, message)."""
    src = Path(upload)
    name = safe_name(getattr(upload, "orig_name", None) or src.name)
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return None, (f"{name}: unsupported file type '{suffix or '(none)'}' — upload "
                      f"{', '.join(SUPPORTED_SUFFIXES)} files.")
    size = src.stat().st_size
    if size > max_mb * 1024 * 1024:
        return None, f"{name}: {size / 1048576:.1f} MB is over the {max_mb:g} MB upload limit."
    uploads_dir.mkdir(parents=True, exist_ok=True)
    staged = uploads_dir / f".staging-{name}"
    shutil.copyfile(src, staged)
    target = uploads_dir / name
    try:
        load_file(staged)  # corrupt, empty, encrypted... -> LoadError before it reaches the index
    except LoadError as err:
        staged.unlink(missing_ok=True)
        return None, f"{name}: {err.reason}."
    staged.replace(target)
    return target, f"{name}: added."
