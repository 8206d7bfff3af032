"""Finding the files to lint, and reading them without losing anything."""

from __future__ import annotations

import io
import os
import tokenize
from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Tuple

from gradlint.config import relative_to_root
from gradlint.safeio import TEMP_PREFIX, is_temp_name, remove_if_stale


@dataclass(frozen=True)
class Source:
    path: str
    text: Optional[str]
    error: Optional[str] = None  # why it could not be read or decoded
    encoding: Optional[str] = "utf-8"  # to write a fixed file back the way it was read
    data: Optional[bytes] = field(default=None, repr=False, compare=False)  # as read


def git_ignored(root: str, seen=None) -> Optional[set]:
    """Absolute paths under `root` that git ignores (folders end with a separator).

    One `git ls-files` call per searched folder; None outside a git work tree or
    without git (then nothing is treated as ignored). `seen` (a `replay.Inputs`) is
    told what git said.
    """
    import subprocess

    from gradlint.replay import GIT_IGNORED

    try:
        proc = subprocess.run(["git", *GIT_IGNORED], cwd=root, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        if seen is not None:
            seen.complete = False
        return None
    except (OSError, subprocess.SubprocessError):
        if seen is not None:
            seen.git_listing(root, None, b"")
        return None
    if seen is not None:
        seen.git_listing(root, proc.returncode, proc.stdout)
    if proc.returncode != 0:
        return None
    out = set()
    for rel in proc.stdout.decode("utf-8", "surrogateescape").split("\0"):
        if rel:
            full = os.path.abspath(os.path.join(root, rel))
            out.add(full + os.sep if rel.endswith("/") else full)
    return out


def discover(paths: List[str], settings, force_exclude: bool = False,
             seen=None, notices: Optional[List[str]] = None) -> Tuple[List[str], List[str]]:
    """Files to lint (sorted, unique) and one message for each path that is not usable.
    `notices` gets one line for each thing a walk skipped that looked like a file to lint
    but is not a regular file (a FIFO or a device named `*.py` would block the run).

    A file named explicitly is linted even if excluded, unless `force_exclude` (as
    pre-commit passes every staged file by name). `settings`: a `Settings`, or a
    `resolve.Resolver` (each folder searched with the settings that apply to it). `seen`
    (a `replay.Inputs`) is told each path and folder looked at, before it is read.
    """
    from gradlint.resolve import Resolver

    resolver = settings if isinstance(settings, Resolver) else Resolver.fixed(settings)
    found: List[str] = []
    errors: List[str] = []
    for raw in paths:
        if seen is not None:
            seen.path(raw)
        if not os.path.lexists(raw):
            errors.append(f"{raw}: no such file or directory")
            continue
        if os.path.isfile(raw):
            if not (force_exclude and resolver.for_path(raw).is_excluded(raw)):
                found.append(os.path.normpath(raw))
            continue
        if not os.path.isdir(raw):
            errors.append(f"{raw}: not a regular file or a folder" if os.path.exists(raw)
                          else f"{raw}: not a file or directory (broken link?)")
            continue
        ignored = git_ignored(raw, seen) if resolver.project.respect_gitignore else None
        found.extend(_walk(raw, resolver, errors, ignored or set(), seen,
                           notices if notices is not None else []))
    unique = sorted(dict.fromkeys(found))
    return unique, errors


def _walk(root: str, resolver, errors: List[str], ignored: set,
          seen=None, notices: Optional[List[str]] = None) -> Iterator[str]:
    # os.scandir, not os.walk: a directory entry knows whether it is a folder or a link
    # without another system call per file, and warm runs are mostly this walk
    real_root = os.path.realpath(root)
    settings = resolver.for_folder(os.path.dirname(os.path.abspath(root)))
    base = relative_to_root(root, settings.root)
    if base != "." and settings.is_excluded_relative(base):
        return
    stack = [root]
    while stack:
        folder = stack.pop()
        if seen is not None:
            seen.path(folder)
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=_name)
        except OSError as exc:
            errors.append(f"{exc.filename}: cannot read folder: {exc.strerror}")
            continue
        # the settings that apply in this folder, and its path relative to their root,
        # worked out once for its entries
        settings = resolver.for_folder(folder)
        base = relative_to_root(folder, settings.root)
        prefix = "" if base == "." else base + "/"
        subfolders = []
        for entry in entries:
            name = entry.name
            if _is_dir(entry):
                if (name.startswith(".") or name == "__pycache__" or entry.is_symlink()
                        or settings.is_excluded_entry(prefix, name)):
                    continue  # links to folders are not followed
                if ignored and os.path.abspath(entry.path) + os.sep in ignored:
                    continue
                marker = os.path.join(entry.path, "pyvenv.cfg")
                if seen is not None:
                    seen.path(marker)
                if os.path.isfile(marker):
                    continue  # a virtual environment
                subfolders.append(entry.path)
                continue
            if not settings.is_included_entry(prefix, name) or settings.is_excluded_entry(
                    prefix, name) or (
                    ignored and os.path.abspath(entry.path) in ignored):
                if name.startswith(TEMP_PREFIX) and is_temp_name(name):
                    remove_if_stale(entry.path)  # left by a run that was killed
                continue
            if not _is_file(entry):
                if not entry.is_symlink():
                    notices.append(f"{os.path.normpath(entry.path)}: skipped: not a regular file")
                continue
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if seen is not None:
                    seen.path(target)
                if not target.startswith(real_root + os.sep) or not os.path.isfile(target):
                    continue  # links are not followed out of the searched tree
            yield os.path.normpath(entry.path)
        stack.extend(reversed(subfolders))


def _name(entry) -> str:
    return entry.name


def _is_file(entry) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _is_dir(entry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def read_source(path: str) -> Source:
    from gradlint.safeio import read_regular

    try:
        data = read_regular(path)
    except OSError as exc:
        return Source(path, None, f"cannot read file: {exc.strerror or exc}")
    return decode(path, data)


def decode(path: str, data: bytes) -> Source:
    text = _plain_utf8(data)
    if text is not None:
        if "\x00" in text:
            return Source(path, None, "cannot parse: the file contains NUL bytes (binary?)")
        return Source(path, text, encoding="utf-8", data=data)
    return decode_declared(path, data)


def decode_declared(path: str, data: bytes) -> Source:
    """Decoding as Python does: a byte order mark or a coding cookie, else UTF-8."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        return Source(path, None, f"cannot decode: {exc.msg if hasattr(exc, 'msg') else exc}")
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        return Source(path, None, f"cannot decode as {encoding}: {exc.reason if hasattr(exc, 'reason') else exc}")
    if text.startswith("\ufeff"):
        text, encoding = text[1:], "utf-8-sig"
    if "\x00" in text:
        return Source(path, None, "cannot parse: the file contains NUL bytes (binary?)")
    if text.encode(encoding) != data:
        # a decoding that does not give the same bytes back (a codec that folds
        # sequences): a fix written in it would change more than its edits
        return Source(path, text, encoding=None, data=data)
    return Source(path, text, encoding=encoding, data=data)


def _plain_utf8(data: bytes) -> Optional[str]:
    """The text of a file that `tokenize.detect_encoding` would call UTF-8 without a
    second look: no byte order mark, no "coding" in its first two lines (where a cookie
    would be), and valid UTF-8. Anything else (None) goes the long way, which also gives
    the messages for bad declarations. Most files are like this, and the long way costs
    more than their decoding."""
    if data.startswith(b"\xef\xbb\xbf"):
        return None
    first = data.find(b"\n")
    second = data.find(b"\n", first + 1) if first >= 0 else -1
    if b"coding" in (data if second < 0 else data[:second]):
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class WriteError(Exception):
    """A fixed file could not be written; the original is unchanged."""


def write_atomic(path: str, text: str, source: Source) -> None:
    """Write the fixed `text` of `source` in place of the file, in the file's own
    encoding, only if the file still holds the bytes `source` was read from
    (`safeio.replace_file`: a temporary file and a rename, through symbolic links,
    keeping owner, mode and extended attributes). Raises WriteError with the reason."""
    from gradlint import safeio

    if source.encoding is None:
        raise WriteError(f"{path}: not fixed: its encoding does not give its bytes back "
                         f"unchanged")
    try:
        info = os.stat(path)
    except OSError as exc:
        raise WriteError(f"{path}: cannot write the fixed file: {exc.strerror}") from None
    folder = os.path.dirname(os.path.realpath(path))
    # root can write anything: respect the permission bits a user set on purpose
    if not info.st_mode & 0o222 or not os.access(path, os.W_OK):
        raise WriteError(f"{path}: cannot write the fixed file: the file is read-only")
    if not os.stat(folder).st_mode & 0o222 or not os.access(folder, os.W_OK):
        raise WriteError(f"{path}: cannot write the fixed file: its folder is read-only")
    try:
        data = text.encode(source.encoding)
    except (UnicodeEncodeError, LookupError) as exc:
        raise WriteError(f"{path}: the fixed text cannot be encoded as {source.encoding}: "
                         f"{exc}") from None
    try:
        safeio.replace_file(path, data, source.data)
    except safeio.Changed as exc:
        raise WriteError(f"{path}: not fixed: {exc.strerror}") from None
    except OSError as exc:
        raise WriteError(f"{path}: cannot write the fixed file: {exc.strerror or exc}") from None
