"""The open catalog: models from config.json files, GPUs from YAML datasheets, matched by shape."""
import json

import pytest

from batchsim.simulator.hardware import GPUS, get_gpu, load_gpu_file
from batchsim.simulator.models import MODELS, ModelSpec, get_model, load_model_config
from batchsim.simulator.profile_cost import default_profile_name

LLAMA_31_8B = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
    "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072,
    "rope_scaling": {"factor": 8.0, "rope_type": "llama3", "original_max_position_embeddings": 8192},
    "tie_word_embeddings": False, "torch_dtype": "bfloat16",
}
DATASHEET = {"name": "mygpu", "bf16_flops": 400e12, "hbm_bytes_per_s": 2e12,
             "memory_bytes": 48 * 10**9, "host_link_bytes_per_s": 32e9, "nvlink_bytes_per_s": 32e9}


def write_json(path, mapping):
    path.write_text(json.dumps(mapping))
    return str(path)


def test_llama_3_8b_has_the_parameter_count_its_shapes_give():
    # per layer: q and o 4096x4096, k and v 4096x1024, three MLP matrices 4096x14336
    layer = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336
    assert MODELS["llama-3-8b"].num_params == 32 * layer + 2 * 128256 * 4096
    assert MODELS["llama-3-8b"].kv_bytes_per_token == 2 * 32 * 8 * 128 * 2


def test_every_catalog_gpu_cites_its_datasheet(tmp_path):
    from batchsim.simulator.hardware import _gpus_root

    for path in _gpus_root().glob("*.yaml"):
        assert path.read_text().startswith("#"), path
    for name in ("b200", "l40s", "rtx4090", "rtxpro6000", "h200", "h100", "a100"):
        assert name in GPUS
    assert GPUS["rtx4090"].hbm_bytes_per_s == 1008e9 and GPUS["rtxpro6000"].memory_bytes == 96 * 2**30


def test_a_config_json_outside_the_catalog_loads_by_path(tmp_path):
    path = write_json(tmp_path / "config.json", {**LLAMA_31_8B, "hidden_size": 5120})
    spec = get_model(path)
    assert spec.name == tmp_path.name and spec.hidden_size == 5120 and spec.head_dim == 160


def test_llama_3_1_config_matches_the_llama_3_profiles_by_shape(tmp_path):
    path = write_json(tmp_path / "llama31.json", LLAMA_31_8B)
    spec = get_model(path)
    assert spec.max_position_embeddings == 131072
    assert spec.cost_shape == MODELS["llama-3-8b"].cost_shape
    assert default_profile_name("h200", path, modes=("engine",)) == "h200-llama-3-8b-engine"
    assert default_profile_name("h200", path, 4) is None  # no TP-4 shard profile of an 8B model


def test_a_different_dtype_is_a_different_cost_shape(tmp_path):
    path = write_json(tmp_path / "fp32.json", {**LLAMA_31_8B, "torch_dtype": "float32"})
    assert get_model(path).dtype_bytes == 4
    assert default_profile_name("h200", path) is None


def test_a_gpu_datasheet_loads_by_path_and_has_no_profile(tmp_path):
    path = tmp_path / "gpu.yaml"
    path.write_text("\n".join(f"{k}: {v}" for k, v in DATASHEET.items()))
    spec = get_gpu(str(path))
    assert (spec.name, spec.bf16_flops, spec.memory_bytes) == ("mygpu", 400e12, 48 * 10**9)
    assert spec.sm_count is None  # optional: without it the roofline models no GEMM tiling
    assert default_profile_name(str(path), "llama-3-8b") is None
    path.write_text(path.read_text() + "\nsm_count: 96\n")
    assert get_gpu(str(path)).sm_count == 96


@pytest.mark.parametrize("change, message", [
    (lambda c: c.pop("num_hidden_layers"), "missing key 'num_hidden_layers'"),
    (lambda c: c.update(vocab_size=-3), "key 'vocab_size' must be a positive integer"),
    (lambda c: c.update(torch_dtype="int3"), "key 'torch_dtype' is 'int3'"),
    (lambda c: c.update(model_type="gpt2"), "key 'model_type' is 'gpt2'"),
    (lambda c: c.update(num_key_value_heads=5), "key 'num_key_value_heads' \\(5\\) does not divide"),
])
def test_bad_configs_name_the_file_and_key(tmp_path, change, message):
    config = dict(LLAMA_31_8B)
    change(config)
    path = write_json(tmp_path / "bad.json", config)
    with pytest.raises(ValueError, match=f"bad.json: {message}"):
        load_model_config(path)


@pytest.mark.parametrize("text, message", [
    ("bf16_flops: 1.0e12\n", "missing key 'hbm_bytes_per_s'"),
    ("\n".join(f"{k}: {v}" for k, v in {**DATASHEET, "memory_bytes": 0}.items()),
     "key 'memory_bytes' must be a positive number"),
    ("\n".join(f"{k}: {v}" for k, v in {**DATASHEET, "fp8_flops": 1}.items()), "unknown key 'fp8_flops'"),
    ("name: x\nbf16_flops: [unclosed\nmore: 1\n", "line 3: not valid YAML"),
    ("- a list\n", "a GPU datasheet is a mapping"),
    ("\n".join(f"{k}: {v}" for k, v in {**DATASHEET, "sm_count": 1.5}.items()),
     "key 'sm_count' must be a whole number"),
])
def test_bad_datasheets_name_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as error:
        load_gpu_file(path)
    assert str(error.value).startswith(str(path))


def test_unknown_names_list_the_catalog():
    with pytest.raises(ValueError, match="unknown model 'gpt-9'.*llama-3-8b.*config.json"):
        get_model("gpt-9")
    with pytest.raises(ValueError, match="unknown GPU 'tpu'.*rtx4090.*datasheet YAML"):
        get_gpu("tpu")


def test_round_trip_through_hf_config_keeps_the_shape():
    for spec in MODELS.values():
        again = ModelSpec.from_hf_config(spec.to_hf_config(), name=spec.name)
        assert again.cost_shape == spec.cost_shape
