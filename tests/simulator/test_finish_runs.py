"""Decode runs past finishes (Step.continues_past_finishes) give exactly what asking the policy
at every finish gives, with fewer policy calls."""
import dataclasses

import hypothesis.strategies as st
import numpy as np
from hypothesis import given, settings

from batchsim.policies import ChunkedPrefillPolicy, ContinuousPolicy, VllmV1Policy
from batchsim.simulator.hardware import get_gpu
from batchsim.simulator.models import get_model
from batchsim.simulator.roofline import RooflineCostModel
from tests.helpers import LinearCost, RecordingPolicy, make_requests, run

POLICIES = {
    "continuous": lambda: ContinuousPolicy(12, 4096),
    "chunked": lambda: ChunkedPrefillPolicy(12, 256),
    "vllm": lambda: VllmV1Policy(12, 256),
}


class AskedAtEveryFinish:
    """The wrapped policy with its promise withdrawn: the replica asks it after every finish."""

    def __init__(self, inner):
        self.inner, self.slots = inner, inner.slots

    def admission_error(self, request):
        return self.inner.admission_error(request)

    def schedule(self, view, now_s):
        step = self.inner.schedule(view, now_s)
        if step.continues_past_finishes:
            return dataclasses.replace(step, continues_past_finishes=False)
        return step


def everything(requests, result):
    """Every output of a run: request outcomes, step rows, inter-token gaps, end time."""
    recorder = result.recorder
    return ([(r.status, r.replica, r.first_token_s, r.finish_s, r.admitted_s, r.preemptions)
             for r in requests],
            {name: column.tobytes() for name, column in recorder.steps.items()},
            bytes(recorder.itl_gap_s), bytes(recorder.itl_count), result.end_s,
            recorder.preemptions, [r.kv.peak_used_blocks for r in result.replicas])


def run_both(prompts, outputs, arrivals, name, **options):
    cost = RooflineCostModel(get_model("llama-3-8b"), get_gpu("h200"))
    outs = []
    for wrap in (lambda p: p, AskedAtEveryFinish):
        requests = make_requests(prompts, outputs, arrivals)
        result = run(requests, lambda: wrap(POLICIES[name]()), cost, **options)
        outs.append(everything(requests, result))
    return outs


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 80), name=st.sampled_from(sorted(POLICIES)),
       kv_blocks=st.integers(40, 600), replicas=st.integers(1, 3),
       router=st.sampled_from(["round-robin", "least-outstanding"]), swap=st.booleans(),
       gap_s=st.sampled_from([0.005, 0.05, 0.5]), prefix_caching=st.booleans())
def test_runs_past_finishes_are_byte_identical_to_asking_at_every_finish(
        seed, n, name, kv_blocks, replicas, router, swap, gap_s, prefix_caching):
    # the policy withdrawn from its promise is asked after every finish; if it ever chose
    # anything but the same decode step there, the two runs would differ
    rng = np.random.default_rng(seed)
    arrivals = rng.exponential(gap_s, n).cumsum().tolist()
    prompts, outputs = rng.integers(1, 900, n).tolist(), rng.integers(1, 400, n).tolist()
    promised, asked = run_both(prompts, outputs, arrivals, name, kv_blocks=kv_blocks,
                               replicas=replicas, router=router, swap=swap,
                               prefix_caching=prefix_caching)
    assert promised == asked


def test_a_run_goes_on_through_a_finish_by_hand():
    # two requests admitted together (prompt step 0.01 s, each samples its first token), then
    # decodes of 0.01 s: request 0 needs 2 more tokens, request 1 needs 5. Asked at every
    # finish the policy chooses decode twice; with the promise once, and the rows and finish
    # times are the same: rows of 1, 2 and 3 steps, finishes at 0.03 s and 0.06 s.
    for wrap, decisions in ((lambda p: p, 2), (AskedAtEveryFinish, 3)):
        requests = make_requests([100, 100], [3, 6])
        policies = []

        def make():
            policies.append(RecordingPolicy(wrap(ContinuousPolicy(8, 4096))))
            return policies[-1]

        result = run(requests, make, LinearCost(base_s=0.01))
        assert len(policies[0].log) == decisions
        assert result.recorder.steps["steps"].tolist() == [1, 2, 3]
        assert result.recorder.steps["decode_seqs"].tolist() == [0, 2, 1]
        assert abs(requests[0].finish_s - 0.03) < 1e-12
        assert abs(requests[1].finish_s - 0.06) < 1e-12


def test_an_arrival_ends_the_run():
    # requests 0 and 1 decode from 0.01 s and request 0 finishes at 0.03 s; the run goes on
    # with request 1, and request 2, arriving at 0.035 s, is admitted at the end of the step
    # it falls in (0.04 s)
    requests = make_requests([100, 100, 50], [3, 9, 2], [0.0, 0.0, 0.035])
    run(requests, lambda: ContinuousPolicy(8, 4096), LinearCost(base_s=0.01))
    assert abs(requests[0].finish_s - 0.03) < 1e-12
    assert abs(requests[2].admitted_s - 0.04) < 1e-12
    # request 2's prompt step (0.04-0.05) samples its first token; it then decodes beside
    # request 1 and finishes at 0.06 s
    assert abs(requests[2].finish_s - 0.06) < 1e-12
    # request 1: tokens at 0.01 (prompt), 0.02, 0.03, 0.04, then the prompt step pauses it,
    # 0.06, 0.07, 0.08, 0.09, 0.10: its ninth token
    assert abs(requests[1].finish_s - 0.10) < 1e-12


def test_a_block_shortage_right_after_a_finish_ends_the_run():
    # blocks of 4 tokens, 8 in the cache; four 4-token prompts take one block each, the first
    # decode step takes one more each (cache full), the next three need none. Request 0
    # finishes after its fourth decode step (5 tokens) and frees 2 blocks, but the next step
    # needs 3 (every member's cached length is 8): the run must end there so that the policy
    # preempts the newest request, as it does when asked at every finish.
    outs = []
    for wrap in (lambda p: p, AskedAtEveryFinish):
        requests = make_requests([4, 4, 4, 4], [5, 12, 12, 12])
        result = run(requests, lambda: wrap(ContinuousPolicy(8, 4096)), LinearCost(base_s=0.01),
                     kv_blocks=8, block_size=4)
        assert [r.preemptions for r in requests] == [0, 0, 0, 1]
        assert abs(requests[0].finish_s - 0.05) < 1e-12
        outs.append(everything(requests, result))
    assert outs[0] == outs[1]
