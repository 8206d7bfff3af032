"""`.gradlint_cache/`: results per file, keyed by content, gradlint version and settings.

Entries are plain JSON (never pickle): a tampered, truncated or foreign entry is
ignored and rebuilt. Writes go through a temporary file and a rename, so concurrent
runs on one cache never see half an entry.
"""

from __future__ import annotations

import json
import os
import zlib
from typing import List, Optional

from gradlint import __version__
from gradlint.diagnostics import Diagnostic, Edit, Fix, Related

FORMAT = 1


class Cache:
    def __init__(self, folder: str):
        self.folder = folder
        self.entries = os.path.join(folder, __version__)
        self._ready = False

    def prepare(self) -> None:
        if self._ready:
            return
        os.makedirs(self.entries, exist_ok=True)
        ignore = os.path.join(self.folder, ".gitignore")
        if not os.path.exists(ignore):
            _write(ignore, "# Automatically created by gradlint.\n*\n")
        tag = os.path.join(self.folder, "CACHEDIR.TAG")
        if not os.path.exists(tag):
            _write(tag, "Signature: 8a477f597d28d172789f06886806bc55\n"
                        "# This file is a cache directory tag created by gradlint.\n")
        self._ready = True

    @staticmethod
    def key(data: bytes, path: str, fingerprint: str) -> str:
        import hashlib  # (3 ms to import, with OpenSSL: a warm run only reads the index)

        h = hashlib.sha256()
        for part in (__version__.encode(), path.encode("utf-8", "surrogateescape"),
                     fingerprint.encode(), data):
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
        return h.hexdigest()

    def _file(self, key: str) -> str:
        return os.path.join(self.entries, key[:2], key + ".json")

    def get(self, key: str) -> Optional[List[Diagnostic]]:
        try:
            with open(self._file(key), encoding="utf-8") as handle:
                entry = json.load(handle)
            if entry.get("format") != FORMAT or entry.get("key") != key:
                return None
            return [from_json(d) for d in entry["diagnostics"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # missing, corrupt or foreign: rebuilt by the caller

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
            with open(self.file, encoding="utf-8") as handle:
                data = json.load(handle)
            if (data.get("format") == FORMAT and data.get("root") == self.root
                    and isinstance(data.get("files"), dict)):
                self.entries = data["files"]
        except (OSError, ValueError, AttributeError):
            self.entries = {}

    def get(self, path: str, stat, fingerprint: str) -> Optional[List[Diagnostic]]:
        entry = self.entries.get(path)
        try:
            if (entry and entry["m"] == stat.st_mtime_ns and entry["s"] == stat.st_size
                    and entry["c"] == stat.st_ctime_ns and entry["i"] == stat.st_ino
                    and entry["f"] == fingerprint):
                return [from_json(d) for d in entry["d"]]
        except (KeyError, TypeError, ValueError, AttributeError):
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
                                          "files": self.entries}))
        except OSError:
            pass


def _write(path: str, text: str) -> None:
    import tempfile  # (with shutil, which it imports: ~3 ms that a warm run never needs)

    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
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
        fix=None if fix is None else Fix(str(fix["applicability"]), str(fix["message"]), tuple(
            Edit(int(e["line"]), int(e["column"]), int(e["end_line"]), int(e["end_column"]),
                 str(e["content"])) for e in fix["edits"])),
        cell=d.get("cell"),
    )


def clean(folder: str) -> bool:
    import shutil

    if os.path.isdir(folder):
        shutil.rmtree(folder)
        return True
    return False
