"""Many files: discover, then lint each (in worker processes, from the cache when
nothing changed) and collect the results in path order."""

from __future__ import annotations

import contextlib
import gc
import os
import time
from typing import List, Optional, Tuple

from gradlint.config import Settings
from gradlint.diagnostics import Diagnostic
from gradlint.filejob import FixMode, RunResult, lint_file, lint_stdin  # noqa: F401 (API)
from gradlint.files import decode, discover
from gradlint.replay import RACY_NS
from gradlint.safeio import read_regular

PARALLEL_MIN_FILES = 8
CHUNK_FILES = 64  # at most, per task a worker is given
# below this much source, starting workers (each imports libcst, ~0.15 s) costs more
# than it saves: 60 small training scripts ran slower with 2 jobs than with 1
PARALLEL_MIN_BYTES = 64 * 1024
# The cycle collector during a run: a parse makes a tree of thousands of objects, freed by
# reference counting when its file is done, so the default thresholds (700, 10, 10) make
# the collector walk every big tree again and again for nothing (no cycles are found in
# the library corpus): 25% of the time on a 50,000-line module, 6% on library code. With
# these, the young generation is collected about every 50,000 objects a file keeps, the
# older ones hardly ever; a run is short-lived, and a worker lives for one run.
RUN_GC_THRESHOLDS = (50_000, 50, 1000)


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def lint_paths(paths: List[str], settings=None, prefilter: bool = True,
               verbose: bool = False, mode: FixMode = FixMode(), force_exclude: bool = False,
               jobs: Optional[int] = None, use_cache: bool = False, seen=None) -> RunResult:
    """`settings`: a `Settings` for every file, or a `resolve.Resolver` (each file gets
    the settings of the configuration closest above it; the project's hold the cache).
    `seen` (a `replay.Inputs`) is told each path looked at, before it is read."""
    from gradlint.resolve import Resolver

    resolver = (settings if isinstance(settings, Resolver)
                else Resolver.fixed(settings or Settings()))
    settings = resolver.project
    # a file changed this close to the run is not put in the index: its times may not
    # show a change made in the same tick of the file system's clock (`replay.RACY_NS`)
    settled = time.time_ns() - RACY_NS
    cache_dir = settings.cache_folder() if use_cache and not mode.active else None
    notices: List[str] = []
    files, errors = discover(list(paths), resolver, force_exclude, seen, notices)
    settings_of = {path: resolver.for_path(path) for path in files}
    # files named on the command line are always parsed (a syntax error in one is
    # reported even where no rule needs its words)
    named = frozenset(os.path.normpath(p) for p in paths if os.path.isfile(p))
    from gradlint.plugins import failures

    result = RunResult(errors=errors + failures(), notices=notices)
    if cache_dir is not None:
        from gradlint.cache import Cache

        try:
            Cache(cache_dir).prepare()
        except OSError as exc:  # not gradlint's folder, or not writable: no cache this run
            result.notices.append(f"{cache_dir}: no cache kept: {exc.strerror or exc}")
            cache_dir = None
            if seen is not None:
                seen.complete = False
    jobs = jobs or default_jobs()
    work = (settings_of, prefilter, verbose, mode, cache_dir, named)
    index, stats, todo = None, {}, files
    if cache_dir is not None:
        from gradlint.cache import Cache, Index

        index = Index(Cache(cache_dir), settings.root)
        todo = []
        for path in files:
            try:
                stats[path] = os.stat(path)
            except OSError:
                todo.append(path)
                if seen is not None:
                    seen.complete = False
                continue
            if seen is not None:
                seen.stat(path, stats[path])
            hit = index.get(path, stats[path],
                            settings_of[path].fingerprint(path, prefilter, path in named))
            if hit is None:
                todo.append(path)
            else:
                result.merge(RunResult(diagnostics=hit, files=1, paths=[path]))
    if jobs > 1 and len(todo) >= PARALLEL_MIN_FILES and _enough_work(todo, stats):
        # largest files first: the run ends on small ones, so no worker is left alone with a
        # big file at the end; the results are then taken in path order (`todo` is sorted),
        # as a serial run's
        bigger_first = sorted(todo, key=lambda path: -_size(path, stats))
        chunk = max(1, min(CHUNK_FILES, len(todo) // (jobs * 8)))
        chunks = [bigger_first[i:i + chunk] for i in range(0, len(todo), chunk)]
        parts = sorted(_in_workers(chunks, work, jobs), key=lambda part: part[0])
        _collect(parts, result, index, stats, settings_of, prefilter, settled, named)
    else:
        with fewer_collections():
            _collect(_lint_each(todo, work), result, index, stats, settings_of, prefilter,
                     settled, named)
    if index is not None:
        index.save()
    result.paths.sort()
    result.diagnostics.sort(key=Diagnostic.sort_key)
    return result


@contextlib.contextmanager
def fewer_collections():
    """The run's collector thresholds inside, and what was there before outside; the
    objects alive at the start (modules, classes: most of a process) are frozen out of
    the collector's walks (unless the process froze its own already)."""
    before = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.set_threshold(*RUN_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if freeze:
            gc.unfreeze()


def _in_workers(chunks: List[List[str]], work: Tuple, jobs: int):
    """(path, result) for every file of `chunks`, linted in worker processes. A worker
    that dies (a native crash, the out-of-memory killer) breaks its pool and every chunk
    still pending in it; those chunks are run again, each in a pool of its own, and the
    files of a chunk that breaks its pool again one by one, so that the file that kills
    its worker gets a GL999 and the others their results."""
    parts: list = []
    lost: List[List[str]] = []
    _pool_round(chunks, work, jobs, parts, lost)
    for paths in lost:
        again: List[List[str]] = []
        _pool_round([paths], work, 1, parts, again)
        for path in (path for chunk in again for path in chunk):
            alone: List[List[str]] = []
            _pool_round([[path]], work, 1, parts, alone)
            if alone:
                parts.append((path, RunResult(files=1, paths=[path], diagnostics=[
                    _internal_error(path, "the process linting this file died (a crash in "
                                          "native code, or out of memory); the file was "
                                          "skipped")])))
    return parts


def _pool_round(chunks, work, jobs, parts: list, lost: list) -> None:
    from concurrent.futures import ProcessPoolExecutor  # (multiprocessing: 15 ms to import)
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_start_worker,
                               initargs=(os.getpid(),))
    try:
        futures = [(paths, pool.submit(_chunk_job, (paths, _for_chunk(work, paths))))
                   for paths in chunks]
        for paths, future in futures:
            try:
                parts.extend(future.result())
            except BrokenProcessPool:
                lost.append(paths)
    finally:
        # on SIGTERM or ^C too: no chunk is started any more, the running ones end
        pool.shutdown(wait=True, cancel_futures=True)


def _for_chunk(work: Tuple, paths: List[str]) -> Tuple:
    """The work of a chunk: with the settings of its own files only (sent to a worker)."""
    settings_of = work[0]
    return ({path: settings_of[path] for path in paths},) + tuple(work[1:])


def _internal_error(path: str, message: str) -> Diagnostic:
    return Diagnostic("GL999", "internal-error", message, path, 1, 1, 1, 1)


def _start_worker(parent: int) -> None:
    """A worker process lints for one run, then ends: the collector's thresholds stay for
    its lifetime. It also ends when its parent does: a killed `gradlint` must not leave
    workers fixing files."""
    import threading

    gc.freeze()
    gc.set_threshold(*RUN_GC_THRESHOLDS)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    # (polling: PR_SET_PDEATHSIG is Linux-only and fires on the death of the parent's
    # thread that started the worker, not of the parent)
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


def _size(path, stats) -> int:
    try:
        return stats[path].st_size if path in stats else os.path.getsize(path)
    except OSError:
        return 0


def _enough_work(paths, stats) -> bool:
    total = 0
    for path in paths:
        total += _size(path, stats)
        if total >= PARALLEL_MIN_BYTES:
            return True
    return False


def _collect(parts, result, index, stats, settings_of, prefilter, settled, named) -> None:
    for path, part in parts:
        result.merge(part)
        if index is not None and path in stats and not part.errors and not any(
                d.code == "GL999" for d in part.diagnostics) and max(
                stats[path].st_mtime_ns, stats[path].st_ctime_ns) < settled:
            index.put(path, stats[path],
                      settings_of[path].fingerprint(path, prefilter, path in named),
                      part.diagnostics)


def _lint_each(paths: List[str], work: Tuple):
    """(path, result) in the order of `paths`; a file whose lint fails in any way gets a
    GL999 and the others go on."""
    for path in paths:
        yield path, _contained(path, work[2], _lint_job, path, work)


def _read(path: str) -> Optional[bytes]:
    try:
        return read_regular(path)
    except OSError:
        return None  # (read again where the error is reported)


def _contained(path: str, verbose: bool, step, *args):
    """`step(*args)`, or a GL999 for `path` if it raises anything (RecursionError and
    MemoryError included): one file's failure never ends the run."""
    try:
        return step(*args)
    except Exception as exc:
        message = f"internal error ({type(exc).__name__}); please report it at the gradlint " \
                  f"issue tracker"
        if verbose:
            import traceback

            message += "\n" + traceback.format_exc()
        else:
            message += " (run with --verbose for the traceback)"
        return RunResult(files=1, paths=[path], diagnostics=[_internal_error(path, message)])


def _chunk_job(args: Tuple) -> List[Tuple[str, RunResult]]:
    """A worker's share: (path, result) for each of its paths."""
    paths, work = args
    return list(_lint_each(paths, work))


def _lint_job(path: str, work: Tuple) -> RunResult:
    """One file's result, from the cache when its content and settings were linted before."""
    settings_of, prefilter, verbose, mode, cache_dir, named = work
    settings, named = settings_of[path], path in named
    if cache_dir is None:
        return lint_file(path, settings, prefilter, verbose, mode, named=named)
    from gradlint.cache import Cache

    cache = Cache(cache_dir)
    data = _read(path)
    if data is None:
        return lint_file(path, settings, prefilter, verbose, mode, named=named)
    key = Cache.key(data, path, settings.fingerprint(path, prefilter, named))
    cached = cache.get(key)
    if cached is not None:
        return RunResult(diagnostics=cached, files=1, paths=[path])
    source = None if path.endswith(".ipynb") else decode(path, data)
    fresh = lint_file(path, settings, prefilter, verbose, mode, source=source, named=named)
    if not fresh.errors and not any(d.code == "GL999" for d in fresh.diagnostics):
        cache.put(key, fresh.diagnostics)
    return fresh
