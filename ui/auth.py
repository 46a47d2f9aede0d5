"""Web chat logins: from `--auth USER:PASS`, SOURCECHAT_AUTH or a credentials file."""

from __future__ import annotations

from pathlib import Path

from corpus.errors import SourcechatError


def parse_logins(text: str, where: str, commas: bool = True) -> list[tuple[str, str]]:
    """USER:PASS pairs, one per line (or comma-separated when `commas`); '#' comments."""
    logins = []
    for item in (text.replace(",", "\n") if commas else text).splitlines():
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        user, sep, password = item.partition(":")
        if not sep or not user.strip() or not password:
            raise SourcechatError(f"{where}: expected USER:PASS, got an entry without "
                                  "both (the password itself may contain ':').")
        logins.append((user.strip(), password))
    return logins


def logins(settings, extra: list[str] | None = None) -> list[tuple[str, str]]:
    """Every configured login: --auth values, SOURCECHAT_AUTH, SOURCECHAT_AUTH_FILE."""
    found: list[tuple[str, str]] = []
    for value in extra or []:
        found += parse_logins(value, "--auth")
    if settings.auth is not None:
        found += parse_logins(settings.auth.get_secret_value(), "SOURCECHAT_AUTH")
    if settings.auth_file is not None:
        path = Path(settings.auth_file).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise SourcechatError(f"Cannot read the credentials file {path}: "
                                  f"{err.strerror or err}.") from None
        found += parse_logins(text, str(path), commas=False)
        if not found:
            raise SourcechatError(f"The credentials file {path} holds no USER:PASS line.")
    return found
