"""Decode-only steps of a recorded step log against a cost model (hand-built log and model)."""
import pytest

from batchsim.planning.records import Record
from batchsim.planning.step_logs import compare_decode_steps, decode_steps

COLUMNS = ["t_start_s", "prepare_s", "forward_s", "update_s", "n_req", "n_decode", "q_tokens",
           "q_padded", "kv_tokens", "kv_padded", "n_new_tokens"]


def _row(n_req, n_decode, q_tokens, kv_tokens, forward_s):
    return [0.0, 0.001, forward_s, 0.001, n_req, n_decode, q_tokens, q_tokens, kv_tokens, kv_tokens, n_req]


class LinearCost:
    """1 ms a decode plus 1 us a cached KV token."""

    def step_time_s(self, shape):
        return 1e-3 * shape.decode_count + 1e-6 * shape.decode_context_sum


def _record():
    rows = [_row(1, 0, 512, 512, 0.040),       # a prefill step: left out
            _row(2, 1, 257, 1300, 0.050),      # a decode and a prompt chunk: left out
            _row(2, 2, 2, 1002, 0.028),        # 2 decodes, 1000 cached: 2 ms + 1 ms = 3 ms vs 30 ms
            _row(4, 4, 4, 4004, 0.058)]        # 4 decodes, 4000 cached: 8 ms vs 60 ms
    return Record({"case": "unit", "steps": {"columns": COLUMNS, "rows": rows}}, "unit.json")


def test_only_decode_only_steps_are_kept_with_their_whole_wall_time():
    steps = decode_steps(_record())
    assert steps["decodes"].tolist() == [2, 4]
    assert steps["kv_tokens"].tolist() == [1002, 4004]
    assert steps["real_s"].tolist() == pytest.approx([0.030, 0.060])  # prepare + forward + update


def test_bins_report_real_times_and_predicted_over_real():
    rows = compare_decode_steps(_record(), LinearCost(), bins=((1, 3), (3, 8)))
    assert [(r["decodes"], r["steps"]) for r in rows] == [("1-2", 1), ("3-7", 1)]
    assert rows[0]["real_median_ms"] == pytest.approx(30.0)
    assert rows[0]["median_ratio"] == pytest.approx(0.003 / 0.030)
    assert rows[1]["sum_ratio"] == pytest.approx(0.008 / 0.060)


def test_a_record_without_a_step_log_is_refused():
    with pytest.raises(ValueError, match="no step log"):
        decode_steps(Record({"case": "static"}, "static.json"))
