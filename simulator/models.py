"""Transformer shapes the simulator and profiler know by name (Hugging Face config fields).

Only shapes matter for cost: a model with random weights times the same as a trained one.
Byte counts assume ``dtype_bytes`` per parameter and per KV element.
"""
from __future__ import annotations

from dataclasses import dataclass


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

    @classmethod
    def from_hf_config(cls, config: dict, name: str = "custom") -> "ModelSpec":
        """Build from a Hugging Face config.json mapping."""
        try:
            return cls(
                name=name,
                hidden_size=int(config["hidden_size"]),
                intermediate_size=int(config["intermediate_size"]),
                num_hidden_layers=int(config["num_hidden_layers"]),
                num_attention_heads=int(config["num_attention_heads"]),
                num_key_value_heads=int(config.get("num_key_value_heads") or config["num_attention_heads"]),
                vocab_size=int(config["vocab_size"]),
                max_position_embeddings=int(config.get("max_position_embeddings", 4096)),
                tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
                head_dim_override=_explicit_head_dim(config),
            )
        except KeyError as missing:
            raise ValueError(f"model config lacks field {missing.args[0]}") from None

    def to_hf_config(self) -> dict:
        """The Hugging Face config fields of this shape (Llama architecture)."""
        return {
            "architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "hidden_size": self.hidden_size, "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads, "vocab_size": self.vocab_size,
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_word_embeddings, "head_dim": self.head_dim,
        }


def _explicit_head_dim(config: dict) -> int | None:
    """A config's head_dim when it differs from hidden_size / heads, else None."""
    head_dim = config.get("head_dim")
    if head_dim is None or int(head_dim) * int(config["num_attention_heads"]) == int(config["hidden_size"]):
        return None
    return int(head_dim)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("llama-3-8b", 4096, 14336, 32, 32, 8, 128256, 8192),
        ModelSpec("llama-3-70b", 8192, 28672, 80, 64, 8, 128256, 8192),
        ModelSpec("llama-2-7b", 4096, 11008, 32, 32, 32, 32000, 4096),
        ModelSpec("llama-2-13b", 5120, 13824, 40, 40, 40, 32000, 4096),
        ModelSpec("llama-2-70b", 8192, 28672, 80, 64, 8, 32000, 4096),
        ModelSpec("mistral-7b", 4096, 14336, 32, 32, 8, 32000, 32768),
        ModelSpec("qwen2.5-7b", 3584, 18944, 28, 28, 4, 152064, 32768),
    )
}


def get_model(name: str) -> ModelSpec:
    """Look a model up by catalog name; the error lists the known names."""
    try:
        return MODELS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown model '{name}' (known: {', '.join(MODELS)})") from None
