"""Shared bits of the management commands: reading a file, telling its format. (The
organisation of `--org` is resolved by `tenancy.scoping.OrgCommand`.)"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError


def read_text(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise CommandError(f"file not found: {path}")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError(f"{path}: not UTF-8 text (byte {exc.start})") from exc


def format_from(path: str, given: str | None, allowed: tuple[str, ...]) -> str:
    if given:
        return given
    suffix = Path(path).suffix.lower().lstrip(".")
    return suffix if suffix in allowed else allowed[0]
