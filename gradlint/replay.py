"""Replaying a `check` run whose inputs have not changed, before click is imported.

A warm run answered from the cache index still spends most of its time starting up:
click (32 ms), tomllib (16 ms), json (8 ms), the walk and the index, against a Python
start of 11 ms. So a `check` run started by the `gradlint` command keeps a record of
its outcome (the report it wrote to stdout, and its exit status) with
everything that outcome was computed from:

- the command line, the working folder, the environment, which streams are terminals,
  gradlint's version and folder, the Python running it and its flags (compared as
  they are);
- every file and folder it looked at: the configuration files (and the nearer ones
  that did not exist), each folder it listed, each file it linted, gradlint's own
  modules and libcst's package (compared by `stat`: type, size, modification and
  change times, inode);
- what `git ls-files` said was ignored (run again and compared).

The next run with the same command line finds the record through `locate` (no TOML
parser), checks all of it, and writes the same bytes and exits with the same status;
if anything differs, or the record is missing, corrupt or foreign, it runs in full and
writes a new record. A record is not kept when the run fixed files, read standard
input, met an error, ran with `--no-cache`, or when a file it read was changed less
than two seconds before it started: file systems stamp times in ticks, so a change in
the same tick as the run could go unseen (git calls such entries "racily clean").
"""

from __future__ import annotations

import marshal
import os
import sys
import time
import zlib

from gradlint import __version__
from gradlint.locate import cache_folder_for

MAGIC = b"GLRUN002"
KEEP = 64  # records per cache folder: one per command line, the oldest go first
RACY_NS = 2_000_000_000
# shell bookkeeping that changes between identical commands and that nothing reads
_NOT_INPUTS = frozenset({"_", "OLDPWD"})
PACKAGE = os.path.dirname(os.path.abspath(__file__))  # the gradlint that runs
GIT_IGNORED = ("ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z",
               "--", ".")


def stat_signature(st) -> tuple[int, ...]:
    return (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def signature(path: str) -> tuple[int, ...] | None:
    try:
        return stat_signature(os.stat(path))
    except (OSError, ValueError):
        return None


def _isatty(stream) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def run_key(argv: list[str]) -> tuple:
    return (MAGIC, __version__, PACKAGE, sys.version, sys.executable, tuple(sys.flags),
            tuple(argv), os.getcwd(),
            tuple(sorted(item for item in os.environ.items() if item[0] not in _NOT_INPUTS)),
            _isatty(sys.stdout), _isatty(sys.stderr))


def record_file(argv: list[str]) -> str | None:
    folder = cache_folder_for(argv)
    if folder is None:
        return None
    name = zlib.crc32(repr((os.getcwd(), tuple(argv))).encode("utf-8", "surrogateescape"))
    return os.path.join(folder, __version__, "runs", f"{name:08x}")


class Inputs:
    """What a run read, each noted before it is read."""

    def __init__(self):
        self.started = time.time_ns()
        self.paths: dict = {}  # path -> signature (None: it did not exist)
        self.git: list = []  # (folder, exit status or None, output)
        self.complete = True  # False: something was read that cannot be checked later

    def path(self, path: str) -> None:
        if path not in self.paths:
            self.paths[path] = signature(path)

    def stat(self, path: str, st) -> None:
        if path not in self.paths:
            self.paths[path] = stat_signature(st)

    def git_listing(self, folder: str, status: int | None, output: bytes) -> None:
        self.git.append((os.path.abspath(folder), status, output))

    def settled(self) -> bool:
        """Nothing read was changed within RACY_NS of the start (or since)."""
        limit = self.started - RACY_NS
        return all(sig is None or (sig[2] < limit and sig[3] < limit)
                   for sig in self.paths.values())


def lookup(argv: list[str]) -> tuple[str, int] | None:
    """The recorded outcome of this command line, if none of its inputs changed:
    (its output, its exit status); else None."""
    if os.name == "nt" or not hasattr(os, "posix_spawnp"):
        return None
    path = record_file(argv)
    if path is None:
        return None
    from gradlint.safeio import read_regular

    try:
        data = read_regular(path)
    except (OSError, ValueError):
        return None
    body = data[len(MAGIC) + 4:]
    if (data[:len(MAGIC)] != MAGIC
            or int.from_bytes(data[len(MAGIC):len(MAGIC) + 4], "little") != zlib.crc32(body)):
        return None
    try:
        key, paths, listings, output, status = marshal.loads(body)
    except (EOFError, ValueError, TypeError):
        return None
    if key != run_key(argv) or type(status) is not int or type(output) is not str:
        return None
    # git runs while the files are checked (it takes 1.7 ms, as long as 400 of them)
    running = [_start_git_ignored(folder) for folder, _, _ in listings]
    try:
        unchanged = all(signature(name) == sig for name, sig in paths)
    finally:
        said = [_finish(started) for started in running]
    if not unchanged or said != [(git_status, output) for _, git_status, output in listings]:
        return None
    return output, status


def _start_git_ignored(folder: str):
    """`files.git_ignored`'s git command in `folder`, started without the subprocess
    module (12 ms to import): (process id, its output's pipe), or None if git cannot
    start."""
    read, write = os.pipe()
    null = os.open(os.devnull, os.O_RDWR)
    try:
        pid = os.posix_spawnp("git", ["git", "-C", folder, *GIT_IGNORED], os.environ,
                              file_actions=[(os.POSIX_SPAWN_DUP2, write, 1),
                                            (os.POSIX_SPAWN_DUP2, null, 2),
                                            (os.POSIX_SPAWN_CLOSE, read)])
    except OSError:
        os.close(read)
        return None
    finally:
        os.close(write)
        os.close(null)
    return pid, read


def _finish(started) -> tuple[int | None, bytes]:
    """(exit status, output) of a git command from `_start_git_ignored`; (None, b"") as
    `files.git_ignored` records a git that cannot start."""
    if started is None:
        return None, b""
    pid, read = started
    chunks = []
    try:
        while True:
            chunk = os.read(read, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read)
        _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status), b"".join(chunks)


def save(argv: list[str], inputs: Inputs, output: str, status: int,
         cache_folder: str) -> None:
    """Keep a record of this run, if it can be checked later and the next run will look
    for it in this cache folder."""
    if os.name == "nt" or not inputs.complete or not inputs.settled():
        return
    try:
        target = record_file(argv)
        if target is None or os.path.dirname(os.path.dirname(os.path.dirname(target))) != \
                os.path.abspath(cache_folder):
            return
        for code in code_files():
            inputs.path(code)
        if not inputs.settled():
            return
        body = marshal.dumps((run_key(argv), tuple(inputs.paths.items()), tuple(inputs.git),
                              output, status))
        from gradlint.cache import Cache

        Cache(cache_folder).prepare()
        folder = os.path.dirname(target)
        os.makedirs(folder, exist_ok=True)
        temporary = f"{target}.{os.getpid()}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(MAGIC + zlib.crc32(body).to_bytes(4, "little") + body)
        os.replace(temporary, target)
        _prune(folder)
    except OSError:
        pass  # a record that cannot be written (or a working folder gone) only costs speed


def code_files() -> list[str]:
    """The code a run's outcome depends on beyond gradlint's version: every module of
    gradlint (edited in place in a development install; the workers may have imported
    rules this process never did), libcst's package (reinstalled: its files change), and
    what can change the rule plugins."""
    found = []
    for folder, subfolders, files in os.walk(PACKAGE):
        subfolders[:] = [name for name in subfolders if name != "__pycache__"]
        found.extend(os.path.join(folder, name) for name in files if name.endswith(".py"))
    import importlib.util

    try:
        spec = importlib.util.find_spec("libcst")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        found.append(spec.origin)
    from gradlint.plugins import input_files

    found.extend(input_files())  # (plugins installed or removed, local rules edited)
    return sorted(found)


def _prune(folder: str) -> None:
    with os.scandir(folder) as listing:
        records = [(entry.stat().st_mtime_ns, entry.path) for entry in listing]
    records.sort(reverse=True)
    for _, path in records[KEEP:]:
        try:
            os.unlink(path)
        except OSError:
            pass
