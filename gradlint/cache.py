"""`.gradlint_cache/`: results per file, keyed by content, gradlint version and settings.

Entries are plain JSON (never pickle): a tampered, truncated or foreign entry is
ignored and rebuilt. Writes go through a temporary file and a rename, so concurrent
runs on one cache never see half an entry.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from typing import List, Optional

from gradlint import __version__
from gradlint.diagnostics import Diagnostic, Edit, Fix, Related
from gradlint.safeio import TEMP_PREFIX, TEMP_SUFFIX, read_regular

FORMAT = 3
TAG = "CACHEDIR.TAG"
TAG_TEXT = ("Signature: 8a477f597d28d172789f06886806bc55\n"
            "# This file is a cache directory tag created by gradlint.\n")
MARKER = ".gradlint-cache"  # gradlint's own mark: a folder with both is gradlint's to remove
MARKER_TEXT = "gradlint cache folder: `gradlint clean` removes it\n"
IGNORE_TEXT = "# Automatically created by gradlint.\n*\n"


class CacheUnusable(OSError):
    """The cache folder exists but is not gradlint's: nothing is written into it."""


def is_marked(folder: str) -> bool:
    return (_small_text(os.path.join(folder, TAG)) == TAG_TEXT
            and _small_text(os.path.join(folder, MARKER)) == MARKER_TEXT)


def _small_text(path: str):
    try:
        return read_regular(path, limit=4096).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


class Cache:
    def __init__(self, folder: str):
        self.folder = folder
        self.entries = os.path.join(folder, __version__)
        self._ready = False

    def prepare(self) -> None:
        """Create the cache folder, marked as gradlint's, or check that an existing one is
        gradlint's. A folder that holds anything else is never written into (raises
        CacheUnusable): `cache-dir` could name a folder of the user's."""
        if self._ready:
            return
        if os.path.lexists(self.folder) and not is_marked(self.folder):
            if not os.path.isdir(self.folder) or os.path.islink(self.folder) or (
                    os.listdir(self.folder) and not _older_cache(self.folder)):
                raise CacheUnusable(0, "the folder exists and is not a gradlint cache "
                                       "(no CACHEDIR.TAG and .gradlint-cache); it is left "
                                       "alone and no cache is kept", self.folder)
        os.makedirs(self.entries, exist_ok=True)
        for name, text in ((TAG, TAG_TEXT), (MARKER, MARKER_TEXT), (".gitignore", IGNORE_TEXT)):
            if not os.path.exists(os.path.join(self.folder, name)):
                _write(os.path.join(self.folder, name), text)
        self._ready = True

    @staticmethod
    def key(data: bytes, path: str, fingerprint: str) -> str:
        import hashlib  # (3 ms to import, with OpenSSL: a warm run only reads the index)

        h = hashlib.sha256()
        for part in (__version__.encode(), code_digest().encode(),
                     path.encode("utf-8", "surrogateescape"), fingerprint.encode(), data):
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
        return h.hexdigest()

    def _file(self, key: str) -> str:
        return os.path.join(self.entries, key[:2], key + ".json")

    def get(self, key: str) -> Optional[List[Diagnostic]]:
        try:
            entry = json.loads(read_regular(self._file(key)).decode("utf-8"))
            if entry.get("format") != FORMAT or entry.get("key") != key:
                return None
            return [from_json(d) for d in entry["diagnostics"]]
        except Exception:  # (RecursionError and MemoryError too)
            return None  # missing, corrupt, foreign or not a file: rebuilt by the caller

    def put(self, key: str, diagnostics: List[Diagnostic]) -> None:
        try:
            self.prepare()
            target = self._file(key)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            _write(target, json.dumps({"format": FORMAT, "key": key,
                                       "diagnostics": [d.to_json() for d in diagnostics]}))
        except OSError:
            pass  # a cache that cannot be written only costs speed


class Index:
    """path -> (stat, settings fingerprint, diagnostics) for one project root.

    A warm run stats each file and loads one JSON file; it neither reads nor hashes the
    sources. The stat is compared by modification and change times, size and inode: a
    change that keeps the modification time (a tool that restores it) still changes the
    change time, which nothing can set. Written by the main process only, once per run,
    atomically.
    """

    def __init__(self, cache: Cache, root: str):
        # the file is named by a checksum of the root and holds the root itself: two roots
        # whose checksums collide share a file and only miss each other's entries
        self.root = os.path.abspath(root)
        digest = zlib.crc32(self.root.encode("utf-8", "surrogateescape"))
        self.cache = cache
        self.file = os.path.join(cache.entries, f"index-{digest:08x}.json")
        self.entries: dict = {}
        self.changed = False
        try:
            data = json.loads(read_regular(self.file).decode("utf-8"))
            if (data.get("format") == FORMAT and data.get("root") == self.root
                    and data.get("code") == code_digest() and isinstance(data.get("files"), dict)):
                self.entries = data["files"]
        except Exception:  # corrupt, foreign, nested too deeply, not a file: rebuilt
            self.entries = {}

    def get(self, path: str, stat, fingerprint: str) -> Optional[List[Diagnostic]]:
        entry = self.entries.get(path)
        try:
            if (entry and entry["m"] == stat.st_mtime_ns and entry["s"] == stat.st_size
                    and entry["c"] == stat.st_ctime_ns and entry["i"] == stat.st_ino
                    and entry["f"] == fingerprint):
                return [from_json(d) for d in entry["d"]]
        except Exception:  # (a corrupt entry: rebuilt)
            pass
        return None

    def put(self, path: str, stat, fingerprint: str, diagnostics: List[Diagnostic]) -> None:
        self.entries[path] = {"m": stat.st_mtime_ns, "s": stat.st_size, "c": stat.st_ctime_ns,
                              "i": stat.st_ino, "f": fingerprint,
                              "d": [d.to_json() for d in diagnostics]}
        self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        try:
            self.cache.prepare()
            _write(self.file, json.dumps({"format": FORMAT, "root": self.root,
                                          "code": code_digest(), "files": self.entries}))
        except OSError:
            pass


def _write(path: str, text: str) -> None:
    import tempfile  # (with shutil, which it imports: ~3 ms that a warm run never needs)

    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=TEMP_PREFIX,
                               suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def from_json(d: dict) -> Diagnostic:
    fix = d.get("fix")
    return Diagnostic(
        code=str(d["code"]), name=str(d["name"]), message=str(d["message"]), path=str(d["path"]),
        line=int(d["line"]), column=int(d["column"]), end_line=int(d["end_line"]),
        end_column=int(d["end_column"]),
        related=tuple(Related(str(r["path"]), int(r["line"]), int(r["column"]), str(r["message"]),
                              r.get("cell")) for r in d["related"]),
        fix=None if fix is None else _fix_from_json(fix),
        cell=d.get("cell"),
        help=None if d.get("help") is None else str(d["help"]),
    )


def _fix_from_json(fix: dict) -> Fix:
    def edits(items):
        return tuple(Edit(int(e["line"]), int(e["column"]), int(e["end_line"]),
                          int(e["end_column"]), str(e["content"])) for e in items)

    shared = fix.get("shared") or {"edits": [], "sharers": 0}
    return Fix(str(fix["applicability"]), str(fix["message"]), edits(fix["edits"]),
               edits(shared["edits"]), int(shared["sharers"]))


_CODE_DIGEST: List[str] = []


def code_digest() -> str:
    """What gradlint's own code is: its modules and libcst's (path, size, times), so an
    editable install whose rules changed does not serve results of the old code."""
    if not _CODE_DIGEST:
        from gradlint.replay import code_files, signature

        parts = repr([(path, signature(path)) for path in code_files()])
        _CODE_DIGEST.append(f"{zlib.crc32(parts.encode('utf-8', 'surrogateescape')):08x}")
    return _CODE_DIGEST[0]


class CleanRefused(Exception):
    """`clean` would remove something that is not gradlint's: nothing was removed."""


_VERSION_NAME = re.compile(r"\d+(\.\d+)*([a-z]+\d*)?(\.dev\d+)?(\+[\w.]+)?")
_ENTRY_FOLDER = re.compile(r"[0-9a-f]{2}")
_ENTRY_FILE = re.compile(r"[0-9a-f]{64}\.json")
_INDEX_FILE = re.compile(r"index-[0-9a-f]{8}\.json")
_RECORD_FILE = re.compile(r"[0-9a-f]{8}(\.\d+\.tmp)?")


def _ours(parts: tuple, is_dir: bool) -> bool:
    """Whether a path inside the cache folder (its parts) is one gradlint writes."""
    name = parts[-1]
    if name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX):
        return not is_dir
    if len(parts) == 1:
        return (name in (TAG, MARKER, ".gitignore") and not is_dir) or (
            is_dir and _VERSION_NAME.fullmatch(name) is not None)
    if len(parts) == 2:
        if is_dir:
            return name == "runs" or _ENTRY_FOLDER.fullmatch(name) is not None
        return _INDEX_FILE.fullmatch(name) is not None
    if len(parts) == 3 and not is_dir:
        pattern = _RECORD_FILE if parts[1] == "runs" else _ENTRY_FILE
        return pattern.fullmatch(name) is not None
    return False


def clean(folder: str, root: Optional[str] = None) -> bool:
    """Remove a gradlint cache folder. False if there is none; CleanRefused (nothing
    removed) unless it is marked as gradlint's, holds only what gradlint writes (no links,
    nothing of the user's), and is not the project root or a folder above it."""
    if not os.path.lexists(folder):
        return False
    real = os.path.realpath(folder)
    if os.path.islink(folder) or not os.path.isdir(folder):
        raise CleanRefused(f"{folder}: not removed: it is not a folder gradlint made")
    if root is not None:
        root_real = os.path.realpath(root)
        if root_real == real or root_real.startswith(real.rstrip(os.sep) + os.sep):
            raise CleanRefused(f"{folder}: not removed: it is the project folder or contains it")
    if not is_marked(folder):
        raise CleanRefused(f"{folder}: not removed: it is not marked as a gradlint cache "
                           f"(CACHEDIR.TAG and .gradlint-cache)")
    files, folders = _contents(folder)
    for path in files:
        os.unlink(path)
    for path in sorted(folders, key=len, reverse=True) + [folder]:
        os.rmdir(path)
    return True


def _older_cache(folder: str) -> bool:
    """A cache of an earlier gradlint (its CACHEDIR.TAG, no marker yet), holding only
    what gradlint writes: it is taken over and marked."""
    if _small_text(os.path.join(folder, TAG)) != TAG_TEXT:
        return False
    try:
        _contents(folder)
    except CleanRefused:
        return False
    return True


def _contents(folder: str):
    """(files, folders) below `folder`, if every one is something gradlint writes;
    else CleanRefused naming the first that is not."""
    files, folders = [], []
    for current, subfolders, names in os.walk(folder):
        rel = os.path.relpath(current, folder)
        base = () if rel == "." else tuple(rel.split(os.sep))
        for name in subfolders:
            path = os.path.join(current, name)
            if os.path.islink(path) or not _ours(base + (name,), True):
                raise CleanRefused(f"{folder}: not removed: {path} is not gradlint's")
            folders.append(path)
        for name in names:
            path = os.path.join(current, name)
            if os.path.islink(path) or not _ours(base + (name,), False):
                raise CleanRefused(f"{folder}: not removed: {path} is not gradlint's")
            files.append(path)
    return files, folders
