"""Which lines a sweep figure draws, and how each latency metric is scaled.

A sweep figure draws one line per distinct combination of the settings that vary in its results
table (policy first), so points that differ in any knob are never joined into one line. A knob
left blank for a policy (it does not read it) groups with the blanks. Every figure scales a
metric the same way: TTFT and E2E span orders of magnitude between an idle and an overloaded
server, so they are drawn on log axes; TPOT stays within one, so linear.
"""
from __future__ import annotations

from batchsim.planning.grid import SETTING_TYPES

METRIC_SCALE = {"ttft": "log", "tpot": "linear", "e2e": "log"}


def line_groups(frame, exclude=()) -> list[str]:
    """Columns naming a line: policy, then every other sweep setting that varies."""
    varying = [c for c in frame.columns if c in SETTING_TYPES and c not in exclude
               and frame[c].nunique(dropna=False) > 1]
    return (["policy"] if "policy" in frame else []) + [c for c in varying if c != "policy"]


def group_label(keys, by) -> str:
    """'continuous, max_num_seqs=32' for one group's key values."""
    keys = keys if isinstance(keys, tuple) else (keys,)
    parts = [str(k) if name == "policy" else f"{name}={_value(k)}" for name, k in zip(by, keys)]
    return ", ".join(p for p in parts if p)


def _value(value) -> str:
    if value is None or value != value:
        return "n/a"
    return f"{value:g}" if isinstance(value, float) else str(value)
