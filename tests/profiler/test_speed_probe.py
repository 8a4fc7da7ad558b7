"""The engine speed probe's arithmetic (profiler/speed_probe.py); the probe itself runs on a GPU."""
import numpy as np
import pytest

from batchsim.profiler.speed_probe import (PROBE_OUTPUT_TOKENS, PROBE_PROMPT_TOKENS, decode_step_gaps_s,
                                           prompt_tokens_now, summarize)


def test_gaps_count_only_once_every_request_decodes():
    # the second request's first token comes at 1.5 s: earlier steps also carried its prompt
    gaps = decode_step_gaps_s([[0.0, 1.0, 2.0, 3.0], [1.5, 2.0, 3.0]])
    assert sorted(gaps.tolist()) == [0.5, 1.0, 1.0]


def test_summary_is_in_milliseconds_and_refuses_an_empty_probe():
    entry = summarize(np.array([0.1, 0.1, 0.4]), 2.0)
    assert entry["step_ms"] == 100.0 and entry["step_mean_ms"] == 200.0 and entry["gaps"] == 3
    with pytest.raises(RuntimeError):
        summarize(np.array([]), 1.0)


def test_each_probe_of_a_process_starts_past_the_contexts_of_the_one_before():
    first, second = prompt_tokens_now(), prompt_tokens_now()
    assert (first - PROBE_PROMPT_TOKENS) % (PROBE_OUTPUT_TOKENS + 1) == 0
    # the earlier probe's contexts reach first + PROBE_OUTPUT_TOKENS: the next one starts beyond
    assert second == first + PROBE_OUTPUT_TOKENS + 1
