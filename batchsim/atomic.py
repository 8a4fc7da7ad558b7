"""Outputs that are complete or absent: never a truncated file, never old and new files mixed.

``atomic_file(path)`` yields a temporary path in the target's own directory and renames it over
the target only when the block finishes; on any error or interrupt the temporary file is removed
and the target is untouched. ``output_directory(path)`` does the same for a set of files: they
are written into a staging directory beside ``path`` with a completion manifest, and the staging
directory replaces ``path`` in one rename (an earlier run's directory is moved aside first and
then deleted). A directory batchsim did not write (no manifest) is never replaced.
``check_output_*`` validate an ``--out`` before any work starts. Write failures (a full disk)
name the file they were writing.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

MANIFEST = "batchsim-output.json"


class OutputError(OSError):
    """An output that cannot be written; the message names the path."""


def _failure(path: Path, error: OSError) -> OutputError:
    reason = error.strerror or str(error) or type(error).__name__
    return OutputError(f"{path}: cannot write ({reason})")


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C while a few renames run, then deliver it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list = []
    previous = signal.signal(signal.SIGINT, lambda *a: pending.append(a))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending:
            raise KeyboardInterrupt


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe_writable(directory: Path, shown: str) -> None:
    try:
        handle, probe = tempfile.mkstemp(prefix=".batchsim-probe-", dir=directory)
    except OSError as error:
        raise OutputError(f"{shown}: cannot write in {directory} ({error.strerror})") from None
    os.close(handle)
    os.unlink(probe)


def check_output_file(path: str | Path, suffixes: tuple[str, ...] = (),
                      inputs: tuple = ()) -> Path:
    """Raise unless ``path`` can become a file: not empty, not a directory, not an input."""
    text = str(path)
    if not text.strip():
        raise OutputError("--out: empty path")
    path = Path(text)
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputError(f"{path}: output must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise OutputError(f"{path}: is a directory; --out needs a file name")
    for source in inputs:
        if source and path.exists() and Path(source).exists() and path.samefile(source):
            raise OutputError(f"{path}: --out is the input file; write to another path")
    base = _nearest_existing(path.parent)
    if not base.is_dir():
        raise OutputError(f"{path}: {base} is not a directory")
    _probe_writable(base, str(path))
    return path


def check_output_directory(path: str | Path) -> Path:
    """Raise unless ``path`` can become an output directory batchsim may replace."""
    text = str(path)
    if not text.strip():
        raise OutputError("--out: empty path")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (path / MANIFEST).is_file():
        raise OutputError(f"{path}: holds files batchsim did not write; give a new or empty "
                          "directory")
    base = _nearest_existing(path.parent)
    if not base.is_dir():
        raise OutputError(f"{path}: {base} is not a directory")
    _probe_writable(base, str(path))
    return path


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` when the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(handle)
    except OSError as error:
        raise _failure(path, error) from None
    temp = Path(temp)
    try:
        yield temp
        with _sigint_deferred():
            os.replace(temp, path)
    except OSError as error:
        raise _failure(path, error) from None
    finally:
        temp.unlink(missing_ok=True)


def commit_files(staged: dict[Path, Path]) -> None:
    """Rename each staged temp file over its target; old targets are removed first so that an
    interruption leaves the old set, no set or the new one, never a mix."""
    with _sigint_deferred():
        for target in staged:
            target.unlink(missing_ok=True)
        for target, temp in staged.items():
            os.replace(temp, target)


@contextmanager
def atomic_files(paths: list[str | Path]) -> Iterator[list[Path]]:
    """Yield temporary paths for several files written as one set; all appear together."""
    targets = [Path(p) for p in paths]
    temps: dict[Path, Path] = {}
    try:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                            dir=target.parent)
            os.close(handle)
            temps[target] = Path(temp)
        yield [temps[t] for t in targets]
        commit_files(temps)
    except OSError as error:
        failed = next((t for t in targets if t in temps and not temps[t].exists()), targets[0])
        raise _failure(failed if error.filename is None else Path(error.filename), error) \
            from None
    finally:
        for temp in temps.values():
            temp.unlink(missing_ok=True)


@contextmanager
def output_directory(path: str | Path, description: str = "") -> Iterator[Path]:
    """Yield a staging directory; on success it replaces ``path`` whole, with a manifest.

    Writers put their files (any number, written in any way, e.g. streamed in chunks) under the
    yielded directory. Nothing appears at ``path`` until the block finishes.
    """
    path = Path(path)
    check_output_directory(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as error:
        raise _failure(path, error) from None
    old = None
    try:
        yield staging
        files = sorted(p.name for p in staging.iterdir())
        write_json(staging / MANIFEST, {"complete": True, "files": files,
                                        "description": description})
        with _sigint_deferred():
            if path.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
                os.replace(path, old / "previous")
            os.replace(staging, path)
    except OSError as error:
        raise _failure(path, error) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def json_safe(value):
    """``value`` with every non-finite float replaced by None (JSON has no NaN or Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return json_safe(value.item())
    return value


def dumps_json(value, **options) -> str:
    """Strict JSON text (non-finite numbers become null; NaN can never be written)."""
    return json.dumps(json_safe(value), allow_nan=False, **options)


def write_json(path: str | Path, value, **options) -> Path:
    """Write strict JSON atomically."""
    path = Path(path)
    text = dumps_json(value, indent=2, sort_keys=True, **options) + "\n"
    with atomic_file(path) as temp:
        temp.write_text(text)
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write text atomically."""
    path = Path(path)
    with atomic_file(path) as temp:
        temp.write_text(text)
    return path
