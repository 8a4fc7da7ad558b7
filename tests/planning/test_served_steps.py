"""Served steps: a hf_cb record's step log and token times give every step's full composition."""
import pytest

from batchsim.planning.served_profile import build_served_profile
from batchsim.planning.served_steps import served_steps
from batchsim.traces.record_format import STEP_LOG_COLUMNS as STEP_COLUMNS
from batchsim.simulator.profile_cost import resolve_profile_path


def _row(t, n_req, n_decode, q, forward=0.05):
    # prepare 1 ms, forward, update 0.5 ms; padded counts, KV tokens and new tokens are not used
    return [t, 0.001, forward, 0.0005, n_req, n_decode, q, q, 0, 0, 0, 0]


def tiny_run(**changes):
    """A 4-token budget. A (6-token prompt, 3 tokens out) and B (2 and 2) arrive together:
    step 0 takes A's first 4 prompt tokens; step 1 A's last 2 over 4 cached and B's whole prompt
    (both first tokens); step 2 decodes A over 6 cached and B over 2; step 3 decodes A over 7."""
    run = {
        "case": "tiny", "engine": "hf_cb",
        "requests": [
            {"i": 0, "arrival": 0.0, "submit": 0.0, "in": 6, "out": 3, "n_gen": 3, "token_times": [1.06, 2.06, 3.06]},
            {"i": 1, "arrival": 0.0, "submit": 0.0, "in": 2, "out": 2, "n_gen": 2, "token_times": [1.06, 2.06]},
        ],
        "steps": {"columns": list(STEP_COLUMNS),
                  "rows": [_row(0.0, 1, 0, 4), _row(1.0, 2, 0, 4), _row(2.0, 2, 2, 2), _row(3.0, 1, 1, 1)]},
    }
    run.update(changes)
    return run


def test_every_step_gets_its_composition():
    served = served_steps(tiny_run())
    assert served.logged == 4 and served.skipped == {}
    shapes = [(s.kind, s.prefill_chunks, s.decode_count, s.decode_context_sum, s.decode_context_max)
              for s in served.steps]
    assert shapes == [("prefill", ((4, 0),), 0, 0, 0),
                      ("prefill", ((2, 4), (2, 0)), 0, 0, 0),
                      ("decode", (), 2, 6 + 2, 6),
                      ("decode", (), 1, 7, 7)]
    # a served step's time is host preparation + forward + update
    assert all(s.wall_s == pytest.approx(0.001 + 0.05 + 0.0005) and s.repeats == 1 for s in served.steps)


def test_a_step_that_disagrees_with_the_log_is_left_out_and_counted():
    run = tiny_run()
    run["steps"]["rows"][2][5] = 1  # the log says one decode where the token times show two
    served = served_steps(run)
    assert len(served.steps) == 3 and served.skipped == {"decode count differs from the log": 1}


def test_a_run_that_preempted_is_left_out_whole():
    served = served_steps(tiny_run(preempted_requests=1))
    assert served.steps == [] and served.skipped == {"run preempted": 4}


def test_old_step_logs_without_the_preemption_column_are_read():
    run = tiny_run()
    run["steps"] = {"columns": list(STEP_COLUMNS[:-1]), "rows": [r[:-1] for r in run["steps"]["rows"]]}
    assert len(served_steps(run).steps) == 4


def test_a_run_of_another_engine_configuration_is_refused(tmp_path):
    run = tiny_run(engine_config={"use_cuda_graph": True, "block_size": 256, "max_batch_tokens": 512,
                                  "attn_implementation": "paged|sdpa", "use_async_batching": False},
                   gpu="NVIDIA H200")
    base = resolve_profile_path("h200-llama-3-8b-engine")  # graphs off
    with pytest.raises(ValueError, match="cuda_graph_varlen: run true, profile false"):
        build_served_profile(base, [("tiny.json", run)], tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("change, field", [
    (lambda rows: rows[2].__setitem__(2, "x"), "steps.rows[2]"),
    (lambda rows: rows.__setitem__(1, rows[1][:5]), "steps.rows[1]"),
    (lambda rows: rows[3].__setitem__(0, 0.5), "steps.rows[3].t_start_s"),
    (lambda rows: rows[0].__setitem__(5, 10 ** 30), "steps.rows[0]"),
    (lambda rows: rows[0].__setitem__(5, True), "steps.rows[0]"),
])
def test_a_broken_step_log_is_named(change, field):
    run = tiny_run()
    change(run["steps"]["rows"])
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        served_steps(run)
