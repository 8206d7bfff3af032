"""Finding the files to lint, and reading them without losing anything."""

from __future__ import annotations

import io
import os
import tokenize
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

from gradlint.config import Settings


@dataclass(frozen=True)
class Source:
    path: str
    text: Optional[str]
    error: Optional[str] = None  # why it could not be read or decoded


def discover(paths: List[str], settings: Settings) -> Tuple[List[str], List[str]]:
    """Files to lint (sorted, unique) and one message for each path that is not usable."""
    found: List[str] = []
    errors: List[str] = []
    for raw in paths:
        if not os.path.lexists(raw):
            errors.append(f"{raw}: no such file or directory")
            continue
        if os.path.isfile(raw):
            found.append(os.path.normpath(raw))  # a file named explicitly is always linted
            continue
        if not os.path.isdir(raw):
            errors.append(f"{raw}: not a file or directory (broken link?)")
            continue
        found.extend(_walk(raw, settings, errors))
    unique = sorted(dict.fromkeys(found))
    return unique, errors


def _walk(root: str, settings: Settings, errors: List[str]) -> Iterator[str]:
    real_root = os.path.realpath(root)

    def onerror(exc: OSError) -> None:
        errors.append(f"{exc.filename}: cannot read folder: {exc.strerror}")

    for folder, dirs, files in os.walk(root, onerror=onerror, followlinks=False):
        keep = []
        for d in sorted(dirs):
            full = os.path.join(folder, d)
            if d.startswith(".") or d == "__pycache__" or settings.is_excluded(full):
                continue
            if os.path.isfile(os.path.join(full, "pyvenv.cfg")):
                continue  # a virtual environment
            keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            full = os.path.join(folder, name)
            if settings.is_excluded(full):
                continue
            if os.path.islink(full):
                target = os.path.realpath(full)
                if not target.startswith(real_root + os.sep) or not os.path.isfile(target):
                    continue  # links are not followed out of the searched tree
            yield os.path.normpath(full)


def read_source(path: str) -> Source:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return Source(path, None, f"cannot read file: {exc.strerror}")
    return decode(path, data)


def decode(path: str, data: bytes) -> Source:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        return Source(path, None, f"cannot decode: {exc.msg if hasattr(exc, 'msg') else exc}")
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        return Source(path, None, f"cannot decode as {encoding}: {exc.reason if hasattr(exc, 'reason') else exc}")
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        return Source(path, None, "cannot parse: the file contains NUL bytes (binary?)")
    return Source(path, text)
