"""The bundled YAML files (GPU datasheets, profile metadata) read from a committed JSON copy.

Every start-up reads the GPU catalog and the metadata of every bundled profile (to find the one
that matches a scenario's GPU and model); PyYAML's pure-Python loader, which batchsim keeps for
its safety on hostile input (batchsim.inputs), spends about 0.06 s on them plus 0.02 s on its own
import, a fifth of a short replay. ``data/bundled_yaml.json`` holds each file's parsed value with
the SHA-256 of the bytes it was parsed from. A file whose bytes no longer match (edited,
re-recorded) is parsed from its YAML as before, so the copy makes a read faster, never different.

``python -m batchsim.simulator.bundled_yaml`` rewrites the copy after a bundled file changes;
tests/simulator/test_bundled_yaml.py fails while it is stale.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
from pathlib import Path

FORMAT = "batchsim-bundled-yaml/1"
DATA_ROOT = Path(__file__).resolve().parent / "data"
COPY_FILE = DATA_ROOT / "bundled_yaml.json"
MISSING = object()  # lookup's answer for a file the copy does not hold as it is now


def lookup(path: str | Path):
    """The parsed value of bundled YAML file ``path`` (a fresh copy), or MISSING when the file is
    not bundled, not in the copy, unreadable, or changed since the copy was written."""
    try:
        relative = Path(path).resolve().relative_to(DATA_ROOT).as_posix()
    except (ValueError, OSError):
        return MISSING
    entry = _entries().get(relative)
    if entry is None:
        return MISSING
    try:
        data = Path(path).read_bytes()
    except OSError:
        return MISSING
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        return MISSING
    return copy.deepcopy(entry["value"])


@functools.lru_cache(maxsize=1)
def _entries() -> dict:
    """Relative path -> {sha256, value}; empty when the copy is missing or not this format."""
    try:
        held = json.loads(COPY_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(held, dict) or held.get("format") != FORMAT or not isinstance(held.get("files"), dict):
        return {}
    return held["files"]


def bundled_yaml_files() -> list[Path]:
    """Every YAML file under the package data folder, in a fixed order."""
    return sorted(DATA_ROOT.rglob("*.yaml"), key=lambda p: p.relative_to(DATA_ROOT).as_posix())


def same_value(a, b) -> bool:
    """Equal with equal types and mapping keys in the same order all the way down (``1``,
    ``1.0`` and ``True`` differ; the order is what a report listing a mapping shows)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def parsed_entry(path: Path) -> dict | None:
    """{sha256, value} of one YAML file, or None when JSON cannot hold its value exactly (dates,
    non-string keys, NaN): such a file is always read from its YAML."""
    from batchsim.inputs import parse_yaml

    data = path.read_bytes()
    value, _ = parse_yaml(data.decode("utf-8").removeprefix("\ufeff"), str(path))
    try:
        again = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return None
    if not same_value(value, again):
        return None
    return {"sha256": hashlib.sha256(data).hexdigest(), "value": value}


def build_copy() -> tuple[dict, list[str]]:
    """The copy's content for the files as they are now, and the files it leaves to YAML."""
    files, left = {}, []
    for path in bundled_yaml_files():
        relative = path.relative_to(DATA_ROOT).as_posix()
        entry = parsed_entry(path)
        if entry is None:
            left.append(relative)
        else:
            files[relative] = entry
    return {"format": FORMAT, "files": files}, left


def main() -> int:
    content, left = build_copy()
    COPY_FILE.write_text(json.dumps(content, indent=1, allow_nan=False) + "\n",
                         encoding="utf-8")
    print(f"wrote {COPY_FILE}: {len(content['files'])} files"
          + (f"; read from YAML (JSON cannot hold them exactly): {', '.join(left)}" if left else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
