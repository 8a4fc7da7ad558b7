"""Reading untrusted input files at the boundary: regular files only, bounded sizes, UTF-8 with the
file's name in every error, JSON and YAML parsed safely (no NaN constants, no runaway nesting).

Every error is an ``InputError`` (a ValueError) whose message is one line naming the file and,
where known, the line and key: ``grid.yaml line 3: max_num_seqs: ...``. Values quoted in messages
are cut to ``QUOTE_CHARS`` characters so that a 300 MB field never reaches the terminal.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

QUOTE_CHARS = 60
MESSAGE_CHARS = 300
TEXT_BYTES = 16 << 20  # scenario, grid, profile metadata: far above any real one
JSON_BYTES = 4 << 30  # vLLM results, records and ShareGPT files are read whole


class InputError(ValueError):
    """A malformed input; the message is one line naming the file and the line or key."""


def quote(value, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters (with the full length when cut)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def one_line(text: str, limit: int = MESSAGE_CHARS) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


def check_regular_file(path: str | Path, what: str = "file") -> Path:
    """``path`` if it is an existing regular file (symlinks followed); else an exact error."""
    path = Path(path)
    if str(path) == "":
        raise InputError(f"{what}: empty path")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except NotADirectoryError:
        raise InputError(f"{path}: no such file (a parent is not a directory)") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a directory, not a {what}")
    if not stat.S_ISREG(mode):
        raise InputError(f"{path}: not a regular file (a device, pipe or socket); give a {what}")
    return path


def read_bytes(path: str | Path, max_bytes: int, what: str = "file") -> bytes:
    """The whole file, refusing one larger than ``max_bytes`` before reading it."""
    path = check_regular_file(path, what)
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(f"{path}: {size:,} bytes is over the {max_bytes:,}-byte limit for a {what}")
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None
    if len(data) > max_bytes:
        raise InputError(f"{path}: over the {max_bytes:,}-byte limit for a {what}")
    return data


def decode_utf8(data: bytes, name: str) -> str:
    """UTF-8 text (a leading byte-order mark dropped); the error names the file and line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(f"{name} line {line}: not UTF-8 text (byte {error.start}: "
                         f"{error.reason})") from None
    return text.removeprefix("\ufeff")


def read_text(path: str | Path, max_bytes: int = TEXT_BYTES, what: str = "file") -> str:
    """A bounded UTF-8 text file."""
    return decode_utf8(read_bytes(path, max_bytes, what), str(path))


def _no_constants(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set = set()
        repeated = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"key {quote(repeated, 40)} given twice in one object")
    return result


def parse_json(text: str, name: str, allow_constants: bool = False):
    """JSON; strict unless ``allow_constants`` (then NaN/Infinity constants and repeated keys
    pass, for foreign files whose unread fields may hold them). Errors name the file."""
    try:
        if allow_constants:
            return json.loads(text)
        return json.loads(text, parse_constant=_no_constants, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as error:
        raise InputError(f"{name} line {error.lineno}, column {error.colno}: not valid JSON "
                         f"({error.msg})") from None
    except RecursionError:
        raise InputError(f"{name}: JSON nested too deeply") from None
    except ValueError as error:  # from _no_constants
        raise InputError(f"{name}: {error}") from None


def read_json(path: str | Path, max_bytes: int = JSON_BYTES, what: str = "JSON file",
              allow_constants: bool = False):
    """A bounded JSON file."""
    return parse_json(read_text(path, max_bytes, what), str(path), allow_constants)


def parse_yaml(text: str, name: str) -> tuple[object, dict[tuple, int]]:
    """Safe-loaded YAML and the line of each mapping key (path tuple -> 1-based line)."""
    # one parse: the node tree gives the key lines and is then constructed into the value.
    # The pure-Python loader on purpose: libyaml's composer overflows the C stack (a crash, not
    # an error) on deeply nested hostile input, where this one raises RecursionError.
    import yaml  # here, not at the top: a replay of bundled data reads no YAML

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        value = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "syntax error"
        raise InputError(f"{name}{where}: not valid YAML ({one_line(problem, 80)})") from None
    except RecursionError:
        raise InputError(f"{name}: YAML nested too deeply") from None
    finally:
        loader.dispose()
    lines: dict[tuple, int] = {}
    if node is not None:
        _key_lines(node, (), lines, 0, name, yaml)
    return value, lines


def _key_lines(node, prefix: tuple, lines: dict, depth: int, name: str, yaml) -> None:
    """Record each mapping key's line; a key given twice in one mapping is an error (PyYAML
    would silently keep the last)."""
    if depth > 20 or not isinstance(node, yaml.MappingNode):
        return
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            key = prefix + (key_node.value,)
            line = key_node.start_mark.line + 1
            if key in lines:
                raise InputError(f"{name} line {line}: {'.'.join(key)}: given twice (also line "
                                 f"{lines[key]})"[:MESSAGE_CHARS])
            lines[key] = line
            _key_lines(value_node, key, lines, depth + 1, name, yaml)


def read_yaml(path: str | Path, what: str = "YAML file") -> tuple[object, dict[tuple, int]]:
    """A bounded YAML file with its key lines."""
    return parse_yaml(read_text(path, TEXT_BYTES, what), str(path))


def where(name: str, lines: dict[tuple, int], key: tuple) -> str:
    """``name line N: a.b`` for a key path (the nearest known line of the path or a parent)."""
    for cut in range(len(key), 0, -1):
        line = lines.get(tuple(str(k) for k in key[:cut]))
        if line is not None:
            break
    else:
        line = None
    dotted = ".".join(str(k) for k in key)
    at = f"{name} line {line}" if line is not None else name
    return f"{at}: {dotted}" if dotted else at
