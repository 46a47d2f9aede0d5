"""Uploaded files: checked (type, size, readable), stored under the data dir with safe names.

An upload never silently replaces another document: the same name with other content is
kept under a free name ("report (2).pdf") unless the user asked to replace it.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import tempfile
import threading
import unicodedata
from pathlib import Path

from corpus import SUPPORTED_SUFFIXES, LoadError, load_file
from corpus.loaders import OCR_OFF, check_image
from corpus.ocr import IMAGE_SUFFIXES

_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)
_PLACING = threading.Lock()  # web chat users upload from several threads at once


def safe_name(name: str) -> str:
    """A file name that cannot leave its folder: no separators, no leading dots."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").split("/")[-1])
    base = _UNSAFE.sub("_", base).strip(" .")
    return base[:200] or "upload"


def accept(upload: str | Path, uploads_dir: Path, max_mb: float,
           replace: bool = False, ocr: bool | None = None) -> tuple[Path | None, str]:
    """Check one uploaded file and store it; returns (stored path or None, message).
    `replace`: a stored file of the same name is replaced instead of kept beside it.
    `ocr` (the setting): scans and images are accepted (the ingest reads them by OCR)."""
    src = Path(upload)
    name = safe_name(getattr(upload, "orig_name", None) or src.name)
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return None, (f"{name}: unsupported file type '{suffix or '(none)'}' — upload "
                      f"{', '.join(SUPPORTED_SUFFIXES)} files.")
    size = src.stat().st_size
    if size > max_mb * 1024 * 1024:
        shown = f"{size / 1048576:.1f} MB" if size >= 1048576 else f"{size / 1024:.0f} KB"
        return None, f"{name}: {shown} is over the {max_mb:g} MB upload limit."
    uploads_dir.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=".staging-", suffix=suffix, dir=uploads_dir)
    os.close(fd)
    staged = Path(staging)
    try:
        shutil.copyfile(src, staged)
        try:
            load_file(staged)  # corrupt, empty, encrypted... -> LoadError before the index
        except LoadError as err:
            if not (ocr and OCR_OFF in err.reason):
                return None, f"{name}: {err.reason}."
            try:  # only OCR can read it: the ingest will (and report what it found)
                if suffix in IMAGE_SUFFIXES:
                    check_image(staged)
            except LoadError as bad:
                return None, f"{name}: {bad.reason}."
        return _place(staged, uploads_dir / name, replace)
    finally:
        staged.unlink(missing_ok=True)


def _place(staged: Path, target: Path, replace: bool) -> tuple[Path, str]:
    name = target.name
    with _PLACING:
        if not target.exists():
            message = f"{name}: added."
        elif filecmp.cmp(staged, target, shallow=False):
            return target, f"{name}: already added (same content)."
        elif replace:
            message = f"{name}: replaced the earlier {name}."
        else:
            target = _free_name(target)
            message = (f"{name}: another document is already called {name}; this one is "
                       f"kept as {target.name} (tick 'Replace documents with the same name' "
                       "to replace it instead).")
        staged.replace(target)
    return target, message


def _free_name(target: Path) -> Path:
    """'report (2).pdf', 'report (3).pdf', ...: the first name not taken."""
    n = 2
    while (candidate := target.with_name(f"{target.stem} ({n}){target.suffix}")).exists():
        n += 1
    return candidate
