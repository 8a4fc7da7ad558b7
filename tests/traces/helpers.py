"""Helpers for trace tests: write small fixture files and find the shared real traces."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_traces() -> Path:
    """The shared traces: $BATCHSIM_SHARED/traces if set, else ``shared/traces`` beside the repo."""
    base = os.environ.get("BATCHSIM_SHARED")
    root = Path(base) if base else REPO_ROOT / ".." / "shared"
    return (root / "traces").resolve()


def shared_file(relative: str) -> Path:
    """A file under the shared traces folder; skips the test when it is absent."""
    path = shared_traces() / relative
    if not path.is_file():
        pytest.skip(f"shared trace {relative} not available")
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``tmp_path/name`` and return the path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
