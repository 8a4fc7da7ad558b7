"""Transformer shapes the simulator and profiler know (Hugging Face config.json fields).

Only shapes matter for cost: a model with random weights times the same as a trained one, and a
model's name or maximum context does not change what one step costs. ``cost_shape`` holds the
fields that do (layers, hidden size, heads, KV heads, head dim, intermediate size, vocabulary,
bytes per element); profiles and records match a model by it. Byte counts assume
``dtype_bytes`` per parameter and per KV element. The shipped catalog is config.json files under
``simulator/data/models/``; ``--model`` takes a catalog name or a path to any config.json of a
dense decoder-only model of the Llama, Mistral or Qwen2 families.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A decoder-only transformer's shape."""

    name: str
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    vocab_size: int
    max_position_embeddings: int = 4096
    tie_word_embeddings: bool = False
    dtype_bytes: int = 2
    head_dim_override: int | None = None  # set when heads x head_dim != hidden (TP shards)

    def __post_init__(self) -> None:
        for name in ("hidden_size", "intermediate_size", "num_hidden_layers",
                     "num_attention_heads", "num_key_value_heads", "vocab_size", "dtype_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"model {self.name}: {name} must be positive")
        if self.head_dim_override is None and self.hidden_size % self.num_attention_heads:
            raise ValueError(f"model {self.name}: hidden_size not divisible by heads")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(f"model {self.name}: heads not divisible by KV heads")

    @property
    def head_dim(self) -> int:
        """Dimension of one attention head."""
        return self.head_dim_override or self.hidden_size // self.num_attention_heads

    @property
    def attention_width(self) -> int:
        """Query heads x head dimension: the width of Q and of the output projection's input."""
        return self.num_attention_heads * self.head_dim

    @property
    def layer_params(self) -> int:
        """Parameters of one decoder layer's matrices (norms ignored)."""
        h, kv = self.hidden_size, self.num_key_value_heads * self.head_dim
        return 2 * h * self.attention_width + 2 * h * kv + 3 * h * self.intermediate_size

    @property
    def dense_flops_per_token(self) -> float:
        """Matmul FLOPs of one token through every layer and the output head (2 per weight)."""
        return 2.0 * (self.num_hidden_layers * self.layer_params + self.vocab_size * self.hidden_size)

    @property
    def layer_flops_per_token(self) -> float:
        """Matmul FLOPs of one token through every decoder layer (2 per weight)."""
        return 2.0 * self.num_hidden_layers * self.layer_params

    @property
    def head_flops_per_sequence(self) -> float:
        """FLOPs of the output head for one sampled position: the engine computes logits only
        where a sequence samples (its last scheduled token), not for every prompt token."""
        return 2.0 * self.vocab_size * self.hidden_size

    @property
    def streamed_weight_bytes(self) -> int:
        """Bytes of weights a forward step reads: every matrix and the output head; an untied
        input embedding is gathered (one row per token), not streamed."""
        gathered = 0 if self.tie_word_embeddings else self.vocab_size * self.hidden_size
        return (self.num_params - gathered) * self.dtype_bytes

    @property
    def attention_flops_per_pair(self) -> float:
        """FLOPs of one (query, key) pair: QK^T and PV, 2 FLOPs per hidden unit each, all layers."""
        return 4.0 * self.num_hidden_layers * self.attention_width

    @property
    def embedding_params(self) -> int:
        """Input embedding plus output head parameters."""
        copies = 1 if self.tie_word_embeddings else 2
        return copies * self.vocab_size * self.hidden_size

    @property
    def num_params(self) -> int:
        """All parameters."""
        return self.num_hidden_layers * self.layer_params + self.embedding_params

    @property
    def weight_bytes(self) -> int:
        """Bytes of weights in memory."""
        return self.num_params * self.dtype_bytes

    @property
    def kv_bytes_per_token(self) -> int:
        """Bytes of K and V cached per token across all layers."""
        return 2 * self.num_hidden_layers * self.num_key_value_heads * self.head_dim * self.dtype_bytes

    @property
    def cost_shape(self) -> tuple:
        """The fields that set a step's cost; two models with equal cost shapes cost the same."""
        return (self.num_hidden_layers, self.hidden_size, self.num_attention_heads,
                self.num_key_value_heads, self.head_dim, self.intermediate_size, self.vocab_size,
                self.dtype_bytes)

    @classmethod
    def from_hf_config(cls, config: dict, name: str = "custom", source: str = "model config") -> "ModelSpec":
        """Build from a Hugging Face config.json mapping; errors name ``source`` and the key."""
        if not isinstance(config, dict):
            raise ValueError(f"{source}: a model config is a JSON object of Hugging Face config fields")
        family = config.get("model_type")
        if family is not None and family not in MODEL_FAMILIES:
            raise ValueError(f"{source}: key 'model_type' is {family!r}; batchsim models dense "
                             f"decoder-only {', '.join(MODEL_FAMILIES)} shapes")
        fields = {key: _positive_int(config, key, source) for key in REQUIRED_CONFIG_KEYS}
        heads = fields["num_attention_heads"]
        kv_heads = (_positive_int(config, "num_key_value_heads", source)
                    if config.get("num_key_value_heads") is not None else heads)
        head_dim = (_positive_int(config, "head_dim", source)
                    if config.get("head_dim") is not None else None)
        if head_dim is None and fields["hidden_size"] % heads:
            raise ValueError(f"{source}: key 'hidden_size' ({fields['hidden_size']}) is not divisible "
                             f"by num_attention_heads ({heads}) and no head_dim is given")
        if heads % kv_heads:
            raise ValueError(f"{source}: key 'num_key_value_heads' ({kv_heads}) does not divide "
                             f"num_attention_heads ({heads})")
        max_len = (_positive_int(config, "max_position_embeddings", source)
                   if config.get("max_position_embeddings") is not None else 4096)
        tie = config.get("tie_word_embeddings", False)
        if not isinstance(tie, bool):
            raise ValueError(f"{source}: key 'tie_word_embeddings' must be true or false, got {tie!r}")
        return cls(
            name=name, num_key_value_heads=kv_heads, max_position_embeddings=max_len,
            tie_word_embeddings=tie, dtype_bytes=_dtype_bytes(config, source),
            head_dim_override=None if head_dim is None or head_dim * heads == fields["hidden_size"]
            else head_dim, **fields)

    def to_hf_config(self) -> dict:
        """The Hugging Face config fields of this shape (Llama architecture)."""
        dtype = next(name for name, size in DTYPE_BYTES.items() if size == self.dtype_bytes)
        return {
            "architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "hidden_size": self.hidden_size, "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads, "vocab_size": self.vocab_size,
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_word_embeddings, "head_dim": self.head_dim,
            "torch_dtype": dtype,
        }


MODEL_FAMILIES = ("llama", "mistral", "qwen2")
REQUIRED_CONFIG_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers",
                        "num_attention_heads", "vocab_size")
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4, "float8_e4m3fn": 1}


def _positive_int(config: dict, key: str, source: str) -> int:
    if key not in config:
        raise ValueError(f"{source}: missing key '{key}'")
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{source}: key '{key}' must be a positive integer, got {value!r}")
    return value


def _dtype_bytes(config: dict, source: str) -> int:
    """Bytes per weight from torch_dtype (or transformers 5's dtype); bf16 when neither is set."""
    for key in ("torch_dtype", "dtype"):
        value = config.get(key)
        if value is not None:
            text = str(value).removeprefix("torch.")
            if text not in DTYPE_BYTES:
                raise ValueError(f"{source}: key '{key}' is {value!r}; known: {', '.join(DTYPE_BYTES)}")
            return DTYPE_BYTES[text]
    return 2


def load_model_config(path: str | Path) -> ModelSpec:
    """Read a config.json (or a directory holding one); the model is named after it."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}, line {error.lineno}: not valid JSON ({error.msg})") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot read ({error.strerror})") from None
    name = path.parent.name if path.name == "config.json" else path.stem
    return ModelSpec.from_hf_config(config, name=name, source=str(path))


def _catalog() -> dict[str, ModelSpec]:
    root = Path(str(resources.files("batchsim.simulator").joinpath("data", "models")))
    return {path.stem: load_model_config(path) for path in sorted(root.glob("*.json"))}


MODELS: dict[str, ModelSpec] = _catalog()


def is_model_path(text: str) -> bool:
    """Whether ``text`` names a config file or directory rather than a catalog entry."""
    return text.lower().endswith(".json") or Path(text).is_dir() or Path(text).is_file()


def same_cost(a: ModelSpec, b: ModelSpec) -> bool:
    """Whether two models cost the same per step (their cost shapes are equal)."""
    return a.cost_shape == b.cost_shape


def get_model(name_or_path: "str | ModelSpec") -> ModelSpec:
    """A catalog model by name, or a config.json by path (a ModelSpec passes through); the
    error lists the names."""
    if isinstance(name_or_path, ModelSpec):
        return name_or_path
    if name_or_path.lower() not in MODELS and is_model_path(name_or_path):
        return load_model_config(name_or_path)
    try:
        return MODELS[name_or_path.lower()]
    except KeyError:
        raise ValueError(f"unknown model '{name_or_path}' (known: {', '.join(MODELS)}; or a path to "
                         f"a Hugging Face config.json)") from None
