"""Serving knobs of one replica, named as vLLM and TGI name them.

``resolved(model_max_len)`` fills the knobs whose defaults depend on the model and policy:
max_model_len (the model's context window), max_num_batched_tokens (2048 for chunked prefill
and the vllm policy, as vLLM v0, Sarathi-Serve and vLLM v1's API server on GPUs under 70 GiB
default; otherwise max(max_model_len, 2048), vLLM v0's rule, so a whole prompt always fits one
prefill step) and enable_prefix_caching (on for the vllm policy, as in vLLM v1; off for the
others unless asked; static batching pads prompts and cannot use it).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

PREEMPTION_MODES = ("recompute", "swap")
CHUNKED_DEFAULT_BUDGET = 2048
CHUNKING_POLICIES = ("chunked", "vllm")  # policies whose budget may be below a prompt


@dataclass(frozen=True)
class ServingConfig:
    """Batching policy and its knobs for every replica of a deployment."""

    policy: str = "continuous"
    batch_size: int = 8  # static batching
    max_wait_s: float = 0.0  # static batching
    max_num_seqs: int = 256
    max_num_batched_tokens: int | None = None
    block_size: int = 16
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.9
    watermark: float = 0.01
    preemption_mode: str = "recompute"
    replicas: int = 1
    router: str = "round-robin"
    kv_blocks: int | None = None  # explicit KV capacity per replica, overriding the memory math
    tensor_parallel_size: int = 1  # GPUs per replica
    long_prefill_token_threshold: int = 0  # vllm policy: cap on a prefill's tokens per step
    enable_prefix_caching: bool | None = None  # None: the policy's default (on for vllm)

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_num_seqs", "block_size", "replicas", "tensor_parallel_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("max_num_batched_tokens", "max_model_len", "kv_blocks"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.long_prefill_token_threshold < 0:
            raise ValueError("long_prefill_token_threshold must be non-negative, "
                             f"got {self.long_prefill_token_threshold}")
        if self.enable_prefix_caching and self.policy == "static":
            raise ValueError("static batching pads prompts: prefix caching is not modelled for it")
        if self.max_wait_s < 0:
            raise ValueError(f"max_wait_s must be non-negative, got {self.max_wait_s}")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ValueError(f"gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization}")
        if not 0 <= self.watermark < 1:
            raise ValueError(f"watermark must be in [0, 1), got {self.watermark}")
        if self.preemption_mode not in PREEMPTION_MODES:
            raise ValueError(f"preemption_mode must be one of {', '.join(PREEMPTION_MODES)}, "
                             f"got '{self.preemption_mode}'")

    def resolved(self, model_max_len: int) -> "ServingConfig":
        """A copy with model- and policy-dependent defaults filled in."""
        max_len = self.max_model_len or model_max_len
        budget = self.max_num_batched_tokens
        chunking = self.policy in CHUNKING_POLICIES
        if budget is None:
            budget = CHUNKED_DEFAULT_BUDGET if chunking else max(max_len, 2048)
        if chunking and budget < self.max_num_seqs:
            raise ValueError(f"max_num_batched_tokens {budget} is below max_num_seqs "
                             f"{self.max_num_seqs}: raise the budget or lower max_num_seqs")
        return replace(self, max_model_len=max_len, max_num_batched_tokens=budget,
                       enable_prefix_caching=self.prefix_caching_on)

    @property
    def prefix_caching_on(self) -> bool:
        """Whether replicas cache prefixes: as asked, else the vllm policy's default (on)."""
        if self.enable_prefix_caching is None:
            return self.policy == "vllm"
        return self.enable_prefix_caching


SERVING_FIELDS = tuple(f.name for f in fields(ServingConfig))
