"""The roofline's step prices, worked by hand for Llama-3.1-8B on an RTX 4090 at the datasheet peaks.

Llama-3.1-8B: a layer holds 2 x 4096 x 4096 (q, o) + 2 x 4096 x 1024 (k, v) + 3 x 4096 x 14336
(gate, up, down) = 218,103,808 parameters, 32 layers = 6,979,321,856; the untied input embedding
and output head hold 128,256 x 4096 = 525,336,576 each. KV: 2 x 32 layers x 8 heads x 128 x 2
bytes = 131,072 bytes a token. Attention: 4 x 32 layers x 4096 = 524,288 FLOPs a (query, key)
pair. RTX 4090 datasheet: 165.2e12 FLOP/s, 1.008e12 bytes/s.
"""
import pytest

from batchsim.simulator.hardware import get_gpu
from batchsim.simulator.models import get_model
from batchsim.simulator.roofline import VARLEN_QUERY_TILE_ROWS, RooflineCostModel
from batchsim.simulator.step import StepShape

FLOPS, BYTES = 165.2e12, 1.008e12
LAYER_PARAMS, HEAD_PARAMS = 6_979_321_856, 525_336_576
KV_BYTES, PAIR_FLOPS = 131_072, 524_288


def bare_cost() -> RooflineCostModel:
    """The roofline at 100% of the datasheet and no per-step overhead: only the physics left."""
    return RooflineCostModel(get_model("llama-3.1-8b"), get_gpu("rtx4090"), step_overhead_s=0.0,
                             compute_efficiency=1.0, memory_efficiency=1.0)


def test_a_decode_step_streams_every_matrix_but_not_the_input_embedding():
    # one sequence, nothing cached: memory-bound; the embedding row is gathered, the head streamed
    streamed = (LAYER_PARAMS + HEAD_PARAMS) * 2
    expected = streamed / BYTES + 1 * KV_BYTES / BYTES
    assert bare_cost().step_time_s(StepShape((), 1, 0, 0)) == pytest.approx(expected, rel=1e-12)
    assert bare_cost().decode_step_time_s(1, 0, 0) == pytest.approx(expected, rel=1e-12)


def test_a_prompt_computes_the_output_head_once_not_per_token():
    # 2,048 new tokens: compute-bound; logits only at the sampled (last) position
    tokens = 2048
    dense = (tokens * 2 * LAYER_PARAMS + 1 * 2 * HEAD_PARAMS) / FLOPS
    attention = tokens * (tokens + 1) / 2 * PAIR_FLOPS / FLOPS  # causal pairs; KV read is smaller
    assert tokens * KV_BYTES / BYTES < attention
    assert bare_cost().step_time_s(StepShape(((tokens, 0),))) == pytest.approx(dense + attention,
                                                                             rel=1e-12)


def test_decodes_beside_a_prefill_chunk_compute_a_whole_query_block_each():
    chunk, decodes, context = 16, 8, 2048
    decode_pairs = decodes * context + decodes  # cached context plus each new token
    chunk_pairs = chunk * (chunk + 1) / 2
    kv_read_s = (decodes * context + decodes + chunk) * KV_BYTES / BYTES
    tokens, seqs = chunk + decodes, 1 + decodes
    weights_s = (LAYER_PARAMS + HEAD_PARAMS) * 2 / BYTES
    assert (tokens * 2 * LAYER_PARAMS + seqs * 2 * HEAD_PARAMS) / FLOPS < weights_s
    mixed_attention_s = (VARLEN_QUERY_TILE_ROWS * decode_pairs + chunk_pairs) * PAIR_FLOPS / FLOPS
    assert VARLEN_QUERY_TILE_ROWS == 128 and mixed_attention_s > kv_read_s  # the blocks bind
    mixed = bare_cost().step_time_s(StepShape(((chunk, 0),), decodes, decodes * context, context))
    assert mixed == pytest.approx(weights_s + mixed_attention_s, rel=1e-12)
    # the same decodes alone run the decode kernel: memory-bound at the KV read
    alone = bare_cost().step_time_s(StepShape((), decodes, decodes * context, context))
    alone_kv_s = (decodes * context + decodes) * KV_BYTES / BYTES
    assert decode_pairs * PAIR_FLOPS / FLOPS < alone_kv_s
    assert alone == pytest.approx(weights_s + alone_kv_s, rel=1e-12)


def test_a_gpu_whose_sms_a_gemm_does_not_fill_evenly_computes_whole_waves():
    # RTX PRO 6000: 188 SMs; 2,048 tokens = 16 rows of 128-token tiles. Output tiles per GEMM and
    # waves of 188: qkv 16 x 48 = 768 (5 waves), o 16 x 32 = 512 (3), gate+up 16 x 224 = 3,584
    # (20), down 512 (3); each wave slot computes a 128 x 128 tile over the GEMM's inner dimension
    occupied = 128 * 128 * (5 * 188 * 4096 + 3 * 188 * 4096 + 20 * 188 * 4096 + 3 * 188 * 14336)
    needed = 2048 * (6144 * 4096 + 4096 * 4096 + 28672 * 4096 + 4096 * 14336)
    assert needed == 2048 * LAYER_PARAMS // 32
    cost = RooflineCostModel(get_model("llama-3.1-8b"), get_gpu("rtxpro6000"), step_overhead_s=0.0,
                             compute_efficiency=1.0, memory_efficiency=1.0)
    dense = (2 * 32 * occupied + 2 * HEAD_PARAMS) / 503.8e12
    attention = 2048 * 2049 / 2 * PAIR_FLOPS / 503.8e12
    assert cost.step_time_s(StepShape(((2048, 0),))) == pytest.approx(dense + attention, rel=1e-12)
    # the RTX 4090's 128 SMs take every one of these GEMMs in whole waves: nothing is lost
    # (test_a_prompt_computes_the_output_head_once_not_per_token prices it with no stretch)
    assert all(tiles % 128 == 0 for tiles in (768, 512, 3584))
