"""A canonical table as plain numpy columns: the replay path's form, which needs no pandas.

Keys and dtypes are the canonical table's (see ``canonical``); every column has one entry per
request. Commands that only replay (``batchsim replay`` on the bundled trace) keep this form and
so start without importing pandas; anything else converts with ``as_frame``.
"""
from __future__ import annotations


def is_columns(table) -> bool:
    """True for a dict of numpy columns, False for a DataFrame."""
    return isinstance(table, dict)


def num_rows(table) -> int:
    """Requests in a table of either form."""
    return len(table["arrival_s"]) if is_columns(table) else len(table)


def as_frame(table):
    """The table as a pandas DataFrame (unchanged if it already is one)."""
    if not is_columns(table):
        return table
    import pandas as pd  # here, not at the top: replaying numpy columns never needs pandas

    return pd.DataFrame(table)


def check_size(table, what, limits) -> None:
    """Refuse a table with too many requests or arrivals beyond the stated span (``limits``)."""
    if not num_rows(table):
        return
    limits.check("requests", num_rows(table), f"{what}: requests")
    limits.check("arrival_span_s", float(max(table["arrival_s"])) if is_columns(table)
                 else float(table["arrival_s"].max()), f"{what}: last arrival (s)")


def take_rows(table, rows):
    """The requests at ``rows`` (a slice or an array of positions), in that order, in the
    table's own form (numpy columns stay columns; a DataFrame keeps its index)."""
    if is_columns(table):
        return {name: column[rows] for name, column in table.items()}
    return table.iloc[rows]


def with_arrivals(table, arrival_s):
    """A copy of ``table`` whose arrival_s column is ``arrival_s`` (the original unchanged)."""
    if is_columns(table):
        return {**table, "arrival_s": arrival_s}
    table = table.copy()
    table["arrival_s"] = arrival_s
    return table
