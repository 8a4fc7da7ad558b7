"""Prefix caching: shared blocks, LRU eviction, preemption, and the block accounting."""
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from batchsim.policies import ChunkedPrefillPolicy, ContinuousPolicy, VllmV1Policy
from batchsim.simulator.kv_cache import BlockManager
from batchsim.simulator.prefix_cache import PrefixCache
from batchsim.simulator.request import Request
from tests.helpers import LinearCost, run


def compute(cache: PrefixCache, request: Request, tokens: int) -> None:
    """What a replica does for a scheduled chunk: allocate its blocks, cache the full ones."""
    need = cache.kv.blocks_for(request.num_computed_tokens + tokens) - request.kv_blocks
    cache.kv.allocate(need)
    request.kv_blocks += need
    cache.register(request, request.num_computed_tokens + tokens)
    request.num_computed_tokens += tokens


def serve_prompt(cache: PrefixCache, request: Request) -> None:
    """Admit ``request`` and compute the rest of its prompt."""
    cache.admit(request)
    compute(cache, request, request.num_tokens - request.num_computed_tokens)


def finish(cache: PrefixCache, request: Request) -> None:
    request.num_generated = request.output_tokens
    cache.release(request)
    request.kv_blocks = 0


def new_cache(total_blocks: int) -> PrefixCache:
    return PrefixCache(BlockManager(total_blocks, 16), id_tokens=16)


def test_a_second_request_sharing_three_blocks_computes_only_the_rest():
    cache = new_cache(20)
    first = Request(0, 0.0, 100, 1, (1, 2, 3, 4, 5, 6))  # 6 full blocks + 4 tokens
    second = Request(1, 0.0, 80, 1, (1, 2, 3, 9, 10))  # shares blocks 1-3 only
    serve_prompt(cache, first)
    assert cache.kv.used_blocks == 7
    assert cache.lookup(second) == (48, 0)  # held by the first request: none is free
    serve_prompt(cache, second)
    assert second.kv_blocks == 5 and cache.kv.used_blocks == 7 + 2  # shared blocks count once
    assert cache.shared_blocks(second) == 3
    assert (cache.hit_tokens, cache.query_tokens) == (48, 180)
    finish(cache, second)
    assert (cache.kv.used_blocks, cache.kv.cached_blocks) == (7, 2)  # its own 2 blocks cached
    finish(cache, first)
    # every reference is back to zero: 6 + 2 cached full blocks and the first request's partial
    # block wait in the free queue; 11 blocks were never used
    assert (cache.kv.used_blocks, cache.kv.cached_blocks) == (0, 9)
    cache.check()


def test_the_last_prompt_token_is_never_a_hit():
    cache = new_cache(20)
    serve_prompt(cache, Request(0, 0.0, 32, 1, (1, 2)))  # still running: its blocks are held
    assert cache.lookup(Request(1, 0.0, 32, 1, (1, 2))) == (16, 0)  # block 2 holds the last
    assert cache.lookup(Request(2, 0.0, 33, 1, (1, 2, 3))) == (32, 0)


def test_eviction_takes_never_used_blocks_then_the_least_recently_freed_tail_first():
    cache = new_cache(8)
    a, b = Request(0, 0.0, 33, 1, (1, 2)), Request(1, 0.0, 33, 1, (7, 8))
    for request in (a, b):  # 3 blocks each: 2 full ones cached, then the partial one
        serve_prompt(cache, request)
        finish(cache, request)
    # free queue, oldest first: 2 never used; a's partial block, a's block 2, a's block 1;
    # then the same three of b
    assert (cache.kv.used_blocks, cache.kv.cached_blocks) == (0, 6)
    again_a, again_b = Request(2, 0.0, 33, 1, (1, 2)), Request(3, 0.0, 33, 1, (7, 8))
    cache.kv.allocate(3)  # the 2 never used, then a's partial block
    assert cache.lookup(again_a) == (32, 2) and cache.lookup(again_b) == (32, 2)
    cache.kv.allocate(2)  # a's block 2, then a's block 1
    assert cache.lookup(again_a) == (0, 0) and cache.lookup(again_b) == (32, 2)
    cache.kv.allocate(2)  # b's partial block, then b's block 2
    assert cache.lookup(again_b) == (16, 1)
    assert cache.kv.used_blocks + cache.kv.cached_blocks == 8
    cache.check()


def test_a_preempted_request_finds_its_prompt_blocks_again():
    cache = new_cache(10)
    request = Request(0, 0.0, 40, 10)  # no shared prefix: its 2 full prompt blocks are its own
    serve_prompt(cache, request)
    request.num_generated = 3  # three decode tokens later: 43 tokens, still 3 blocks
    compute(cache, request, 3)
    cache.release(request)  # recompute preemption: the partial block, then its own 2 queue up
    request.num_computed_tokens = request.kv_blocks = 0
    assert (cache.kv.used_blocks, cache.kv.cached_blocks) == (0, 3)
    assert cache.lookup(request) == (32, 2)
    cache.admit(request)
    assert (request.num_computed_tokens, request.kv_blocks) == (32, 2)
    assert (cache.kv.used_blocks, cache.kv.cached_blocks) == (2, 1)
    assert (cache.hit_tokens, cache.query_tokens) == (32, 40 + 43)


def preempt_after_decoding(cache: PrefixCache, request: Request, generated: int) -> None:
    """Serve ``request``'s prompt, decode until ``generated`` tokens, then preempt it."""
    serve_prompt(cache, request)
    request.num_generated = generated  # each decode computed the token sampled before it
    compute(cache, request, generated - 1)
    cache.release(request)
    request.num_computed_tokens = request.kv_blocks = 0
    request.preemptions += 1


def test_a_preempted_request_keeps_its_generated_full_blocks_and_recomputes_only_the_tail():
    cache = new_cache(12)
    request = Request(0, 0.0, 40, 100)  # no ids: all its blocks are its own
    # 40 prompt + 30 generated = 70 tokens, 69 computed: 4 full blocks (2 of prompt, a mixed
    # one, 1 of generated tokens) and a partial fifth
    preempt_after_decoding(cache, request, 30)
    assert (cache.kv.used_blocks, cache.kv.cached_blocks) == (0, 5)
    assert cache.lookup(request) == (64, 4)
    cache.admit(request)
    assert (request.num_computed_tokens, request.kv_blocks) == (64, 4)
    assert request.tokens_to_compute == 6  # the tail past the last full block
    # the 4 blocks are back in use; its old partial block waits in the free queue
    assert (cache.kv.used_blocks, cache.kv.cached_blocks) == (4, 1)
    assert cache.kv.used_blocks + cache.kv.free_blocks == 12
    # the resumed admission stays out of the hit rate, as in vLLM's PrefixCacheStats
    assert (cache.hit_tokens, cache.query_tokens) == (0, 40)
    assert (cache.preempted_hit_tokens, cache.preempted_query_tokens) == (64, 70)
    cache.check()


def test_a_preempted_request_recomputes_from_its_first_evicted_block():
    cache = new_cache(12)
    request = Request(0, 0.0, 40, 100)
    preempt_after_decoding(cache, request, 30)
    # 7 never used, then its partial block, then its own run from the tail: block 4 goes
    cache.kv.allocate(7 + 1 + 1)
    assert cache.lookup(request) == (48, 3)
    cache.admit(request)
    assert (request.num_computed_tokens, request.tokens_to_compute) == (48, 22)
    assert (cache.kv.used_blocks, cache.kv.cached_blocks) == (9 + 3, 0)
    cache.check()


def test_the_last_token_of_a_resumed_request_is_never_a_hit():
    cache = new_cache(12)
    request = Request(0, 0.0, 40, 100)
    preempt_after_decoding(cache, request, 9)  # 49 tokens, 48 computed: 3 full blocks
    assert cache.lookup(request) == (48, 3)  # 49 tokens: token 49 is past the 3 blocks
    other = Request(1, 0.0, 40, 100)
    preempt_after_decoding(cache, other, 8)  # 48 tokens, 47 computed: 2 full blocks
    assert cache.lookup(other) == (32, 2)


def test_the_simulator_prefills_only_the_uncached_tokens():
    cost = LinearCost(base_s=0.01)
    requests = [Request(0, 0.0, 100, 2, (1, 2, 3, 4, 5, 6)),
                Request(1, 1.0, 80, 2, (1, 2, 3, 9, 10))]
    result = run(requests, lambda: VllmV1Policy(4, 1024), cost, prefix_caching=True,
                 prefix_block_tokens=16)
    chunks = [s.prefill_chunks for s in cost.shapes if s.prefill_chunks]
    assert chunks == [((100, 0),), ((32, 48),)]  # attention still reads the 48 cached tokens
    cache = result.replicas[0].prefix_cache
    assert cache.hit_rate == pytest.approx(48 / 180)


def test_mooncake_ids_of_512_tokens_map_onto_blocks_of_16():
    cache = PrefixCache(BlockManager(200, 16), id_tokens=512)
    serve_prompt(cache, Request(0, 0.0, 1100, 1, (5, 6, 7)))  # 1,100 tokens: 68 full blocks
    # shares the first id (32 blocks of 16), then differs
    assert cache.lookup(Request(1, 0.0, 1100, 1, (5, 9, 7))) == (512, 0)


def test_a_preempted_request_rehits_its_blocks_in_the_simulator():
    cost = LinearCost(base_s=0.01)
    requests = [Request(i, 0.0, 32, 40) for i in range(2)]
    result = run(requests, lambda: VllmV1Policy(4, 1024), cost, kv_blocks=6,
                 prefix_caching=True)
    assert all(r.status == "finished" for r in requests)
    assert requests[1].preemptions >= 1
    cache = result.replicas[0].prefix_cache
    assert cache.preempted_hit_tokens > 0  # its readmission hit, counted apart as vLLM does
    assert cache.hit_tokens == 0  # no two requests share a block
    assert any(cached > 0 for shape in cost.shapes for _, cached in shape.prefill_chunks)


def shared_prefix_requests(seed: int, n: int, gap_s: float) -> list[Request]:
    rng = np.random.default_rng(seed)
    arrivals = rng.exponential(gap_s, n).cumsum()
    requests = []
    for i in range(n):
        system = int(rng.integers(0, 3))  # one of three system prompts of 2-5 ids
        ids = tuple(100 * system + k for k in range(2 + system)) + tuple(
            1000 * (i + 1) + k for k in range(int(rng.integers(0, 4))))
        prompt = int(rng.integers(len(ids) * 16 - 15, len(ids) * 16 + 40))
        requests.append(Request(i, float(arrivals[i]), max(prompt, 1), int(rng.integers(1, 200)),
                                ids))
    return requests


POLICIES = {"vllm": lambda: VllmV1Policy(8, 256), "chunked": lambda: ChunkedPrefillPolicy(8, 256),
            "continuous": lambda: ContinuousPolicy(8, 4096)}


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 60), kv_blocks=st.integers(30, 300),
       gap_s=st.sampled_from([0.002, 0.02, 0.2]), name=st.sampled_from(sorted(POLICIES)))
def test_blocks_return_and_runs_match_single_steps_with_prefix_caching(seed, n, kv_blocks,
                                                                       gap_s, name):
    outcomes, rates = [], []
    for max_run_steps in (1, None):
        requests = shared_prefix_requests(seed, n, gap_s)
        result = run(requests, POLICIES[name], LinearCost(1e-3, 1e-5, 1e-4, 1e-7),
                     kv_blocks=kv_blocks, prefix_caching=True, prefix_block_tokens=16,
                     max_run_steps=max_run_steps)
        cache = result.replicas[0].prefix_cache
        cache.check()
        assert cache.kv.used_blocks == 0  # every request gave its blocks back
        assert cache.kv.cached_blocks <= kv_blocks
        outcomes.append(([(r.status, r.preemptions) for r in requests],
                         np.array([[r.first_token_s, r.finish_s] for r in requests], float)))
        rates.append(cache.hit_rate)
    (stepped, stepped_s), (jumped, jumped_s) = outcomes
    assert jumped == stepped
    np.testing.assert_allclose(jumped_s, stepped_s, rtol=1e-9)
    assert rates[0] == rates[1]


def test_the_next_turn_hits_the_previous_turns_answer_too():
    cost = LinearCost(base_s=0.01)
    conversation = (1, 2, 3, 4, 5)  # 16-token blocks of turn 1's 32 + 17 tokens, then turn 2's
    requests = [Request(0, 0.0, 32, 17, conversation[:4]),
                Request(1, 5.0, 64, 2, conversation)]
    run(requests, lambda: VllmV1Policy(4, 1024), cost, prefix_caching=True,
        prefix_block_tokens=16)
    chunks = [s.prefill_chunks for s in cost.shapes if s.prefill_chunks]
    # turn 1 computed 48 tokens (its last answer token is sampled, never computed): 3 full
    # blocks, the third of answer tokens; turn 2 recomputes only its last block
    assert chunks == [((32, 0),), ((16, 48),)]
