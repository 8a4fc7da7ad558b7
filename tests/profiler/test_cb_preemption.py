"""The recorder under KV pressure: transformers' engine soft-resets requests when its blocks run out;
the step log names each eviction and every request keeps its true first-token time."""
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
if not transformers.__version__.startswith("5.17."):
    pytest.skip("the recorder reads transformers 5.17's engine objects (the H200 image's version)",
                allow_module_level=True)

from transformers import AutoModelForCausalLM, LlamaConfig  # noqa: E402

from batchsim.profiler.hf_cb_run import CbKnobs, replay_cb  # noqa: E402
from batchsim.profiler.hf_model import random_prompts  # noqa: E402
from batchsim.profiler.trace_csv import TraceRow  # noqa: E402


def test_preempted_requests_keep_their_first_token_and_are_logged():
    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=256, max_position_embeddings=512)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    # 8 requests of 40 + 60 tokens need 7 blocks of 16 each at the end; 24 blocks hold 3 of them
    rows = [TraceRow(arrival_s=0.01 * i, prompt_tokens=40, output_tokens=60) for i in range(8)]
    prompts = random_prompts([r.prompt_tokens for r in rows], 256, 0)
    knobs = CbKnobs(block_size=16, num_blocks=24, max_batch_tokens=64, max_requests_per_batch=8)
    result = replay_cb(model, rows, prompts, prompts, knobs, limit_s=120)
    requests = result["requests"]
    evicted = {int(rid[1:]) for _, rid in result["preemptions"]}
    assert evicted and result["preempted_requests"] == len(evicted)
    assert sum(row[-1] for row in result["steps"]["rows"]) == len(result["preemptions"])
    for entry in requests:
        assert entry["n_gen"] == 60 and "first_token" in entry
        assert entry["preemptions"] == sum(1 for _, rid in result["preemptions"] if rid == f"r{entry['i']}")
        if entry["i"] in evicted:
            # the engine restarts a soft-reset request's timestamps; the first token came earlier
            assert len(entry["token_times"]) < 60 and entry["first_token"] < entry["token_times"][0]
        else:
            assert entry["first_token"] == entry["token_times"][0]
