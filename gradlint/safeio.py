"""Reading and writing the user's files without ever blocking on, or destroying, them.

Kept free of heavy imports: the replay (`replay`, `locate`) reads through it before
click or tomllib are loaded.
"""

from __future__ import annotations

import os
import stat
import time

# `.gradlint-<pid>-<random>.tmp`: the writer's process id tells a later run whether the
# file is a leftover of a killed run (its writer is gone) or another run's work in progress
TEMP_PREFIX = ".gradlint-"
TEMP_SUFFIX = ".tmp"
STALE_AFTER_S = 24 * 3600  # a leftover whose process id was reused is removed after this


class NotRegular(OSError):
    """The path is a FIFO, a device, a socket or a folder: reading it could block forever
    or never end."""


def read_regular(path: str, limit: int | None = None) -> bytes:
    """The bytes of a regular file. A FIFO or a device is refused before a byte is read
    (opened without blocking, then checked by `fstat` on the open descriptor, so a file
    swapped for a FIFO after a check cannot slip through)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegular(0, "not a regular file", path)
        chunks = []
        size = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if limit is not None and size > limit:
                raise OSError(0, f"larger than {limit} bytes", path)
        return b"".join(chunks)
    finally:
        os.close(fd)


def temp_name(folder: str) -> str:
    return os.path.join(folder, f"{TEMP_PREFIX}{os.getpid()}-{os.urandom(6).hex()}{TEMP_SUFFIX}")


def is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


def remove_if_stale(path: str) -> bool:
    """Remove a temporary file of gradlint's whose writer is no longer running (killed
    between writing and renaming it). Another run's file in progress is left alone."""
    name = os.path.basename(path)
    if not is_temp_name(name):
        return False
    pid_text = name[len(TEMP_PREFIX):].split("-", 1)[0]
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode):
        return False
    stale = time.time() - info.st_mtime > STALE_AFTER_S
    if not stale and pid_text.isdigit():
        pid = int(pid_text)
        # a process that started after the file was last written is not its writer:
        # the writer's id was reused (soon, where ids are few, as in a container)
        stale = not _running(pid) or _started_after(pid, info.st_mtime)
    if stale:
        try:
            os.unlink(path)
            return True
        except OSError:
            return False
    return False


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or a check that cannot say: leave the file
    # a zombie has ended: a killed run's worker stays one where nothing reaps orphans
    # (a container's first process often does not)
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _started_after(pid: int, moment: float) -> bool:
    """Process `pid` started after `moment` (seconds since the epoch); False where the
    system cannot say (no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            ticks = int(handle.read().rsplit(b")", 1)[1].split()[19])  # field 22, starttime
        with open("/proc/uptime", "rb") as handle:
            uptime = float(handle.read().split()[0])
        hertz = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return False
    started = time.time() - uptime + ticks / hertz
    return started > moment + 0.05  # (the clock ticks and /proc/uptime are 10 ms steps)


def remove_stale_in(folder: str) -> None:
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if is_temp_name(name):
            remove_if_stale(os.path.join(folder, name))


class Changed(OSError):
    """The file no longer holds the bytes a fix was computed from."""


def replace_file(path: str, data: bytes, expected: bytes) -> None:
    """Put `data` in place of the file at `path` if it still holds `expected`.

    Through a temporary file in the target's own folder and a rename, so a reader never
    sees half a file and a kill leaves the original (and at worst a temporary file that
    `remove_if_stale` finds). A symbolic link is written through: its target changes and
    the link stays. The owner, group, mode and extended attributes are kept where the
    platform allows it."""
    target = os.path.realpath(path)
    info = os.stat(target)
    if not stat.S_ISREG(info.st_mode):
        raise NotRegular(0, "not a regular file", path)
    folder = os.path.dirname(target)
    remove_stale_in(folder)
    tmp = temp_name(folder)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            _copy_metadata(target, info, fd)
        finally:
            os.close(fd)
        # the last moment before the rename: a change made while the fix was computed
        # (an editor saving, a tool appending) wins, and nothing is written
        if read_regular(target) != expected:
            raise Changed(0, "the file changed while gradlint was fixing it; it was left "
                             "as it is now", path)
        os.replace(tmp, target)
        tmp = None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _copy_metadata(target: str, info: os.stat_result, fd: int) -> None:
    if hasattr(os, "fchown") and (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.fchown(fd, info.st_uid, info.st_gid)
        except OSError:
            pass  # only root may give a file away; the owner is then the writer
    os.fchmod(fd, stat.S_IMODE(info.st_mode))  # (after the owner: chown clears set-id bits)
    if hasattr(os, "listxattr"):
        try:
            names = os.listxattr(target)
        except OSError:
            return
        for name in names:
            try:
                os.setxattr(fd, name, os.getxattr(target, name))
            except OSError:
                pass  # (security.* and system.* need privileges)
