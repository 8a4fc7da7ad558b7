"""Row selection and arrival replacement agree between the two forms of a canonical table."""
import numpy as np
import pandas as pd

from batchsim.traces.columns import num_rows, take_rows, with_arrivals


def tables():
    columns = {"arrival_s": np.array([0.0, 1.5, 2.0, 4.0, 7.5]),
               "prompt_tokens": np.array([10, 20, 30, 40, 50]),
               "output_tokens": np.array([1, 2, 3, 4, 5]),
               "request_id": np.arange(5)}
    return columns, pd.DataFrame(columns)


def test_take_rows_picks_the_same_requests_in_either_form():
    columns, frame = tables()
    for rows in (slice(1, None, 2), np.array([4, 0, 2])):
        picked, framed = take_rows(columns, rows), take_rows(frame, rows)
        assert num_rows(picked) == len(framed)
        for name in columns:
            assert picked[name].tolist() == framed[name].tolist()
    assert take_rows(columns, slice(1, None, 2))["prompt_tokens"].tolist() == [20, 40]


def test_with_arrivals_copies_and_leaves_the_original_alone():
    columns, frame = tables()
    for table in (columns, frame):
        moved = with_arrivals(table, np.asarray(table["arrival_s"]) / 2.0)
        assert list(moved["arrival_s"]) == [0.0, 0.75, 1.0, 2.0, 3.75]
        assert list(table["arrival_s"]) == [0.0, 1.5, 2.0, 4.0, 7.5]
        assert list(moved["prompt_tokens"]) == [10, 20, 30, 40, 50]
