"""Length models for synthetic load: each samples (prompt_tokens, output_tokens) pairs.

Every model has ``sample(count, rng) -> (prompt, output)`` int64 arrays of tokens >= 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from batchsim.traces.errors import TraceError


@dataclass(frozen=True)
class FixedLengths:
    """Every request has the same prompt and output length."""

    prompt_tokens: int
    output_tokens: int

    def __post_init__(self) -> None:
        if self.prompt_tokens < 1 or self.output_tokens < 1:
            raise TraceError("fixed lengths must be >= 1 token")

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``count`` identical pairs."""
        return (np.full(count, self.prompt_tokens, dtype=np.int64),
                np.full(count, self.output_tokens, dtype=np.int64))


@dataclass(frozen=True)
class UniformLengths:
    """Prompt and output lengths independent and uniform on inclusive ranges."""

    prompt_min: int
    prompt_max: int
    output_min: int
    output_max: int

    def __post_init__(self) -> None:
        if not (1 <= self.prompt_min <= self.prompt_max and 1 <= self.output_min <= self.output_max):
            raise TraceError("uniform lengths need 1 <= min <= max for prompt and output")

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``count`` independent uniform pairs."""
        return (rng.integers(self.prompt_min, self.prompt_max, size=count, endpoint=True),
                rng.integers(self.output_min, self.output_max, size=count, endpoint=True))


@dataclass(frozen=True)
class LogNormalLengths:
    """Independent lognormal prompt and output lengths: ln(tokens) ~ N(mu, sigma)."""

    prompt_mu: float
    prompt_sigma: float
    output_mu: float
    output_sigma: float

    def __post_init__(self) -> None:
        if self.prompt_sigma < 0 or self.output_sigma < 0:
            raise TraceError("lognormal sigma must be >= 0")

    @classmethod
    def fit(cls, table: pd.DataFrame) -> "LogNormalLengths":
        """Maximum-likelihood fit (mean and std of ln tokens) to a canonical table."""
        prompt = np.log(table["prompt_tokens"].to_numpy(dtype=np.float64))
        output = np.log(table["output_tokens"].to_numpy(dtype=np.float64))
        return cls(float(prompt.mean()), float(prompt.std()), float(output.mean()),
                   float(output.std()))

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``count`` pairs rounded to whole tokens, at least 1."""
        prompt = rng.lognormal(self.prompt_mu, self.prompt_sigma, size=count)
        output = rng.lognormal(self.output_mu, self.output_sigma, size=count)
        return (np.maximum(np.rint(prompt), 1).astype(np.int64),
                np.maximum(np.rint(output), 1).astype(np.int64))


@dataclass(frozen=True)
class EmpiricalLengths:
    """Resample whole requests from a trace, keeping each prompt with its own output."""

    prompt_tokens: tuple[int, ...]
    output_tokens: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.prompt_tokens or len(self.prompt_tokens) != len(self.output_tokens):
            raise TraceError("empirical lengths need equal, non-empty prompt and output lists")

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> "EmpiricalLengths":
        """Use every request of a canonical table."""
        return cls(tuple(table["prompt_tokens"].tolist()), tuple(table["output_tokens"].tolist()))

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``count`` requests drawn with replacement."""
        chosen = rng.integers(0, len(self.prompt_tokens), size=count)
        return (np.asarray(self.prompt_tokens, dtype=np.int64)[chosen],
                np.asarray(self.output_tokens, dtype=np.int64)[chosen])


@dataclass(frozen=True)
class MixtureLengths:
    """Each request comes from component i with probability weights[i] (e.g. short/long)."""

    weights: tuple[float, ...]
    components: tuple

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.components) or not self.weights:
            raise TraceError("a mixture needs one weight per component")
        if min(self.weights) < 0 or not np.isclose(sum(self.weights), 1.0):
            raise TraceError(f"mixture weights must be >= 0 and sum to 1, got {self.weights}")

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``count`` pairs; component choice and draws from the one generator."""
        which = rng.choice(len(self.weights), size=count, p=np.asarray(self.weights))
        prompt = np.empty(count, dtype=np.int64)
        output = np.empty(count, dtype=np.int64)
        for i, component in enumerate(self.components):
            mine = which == i
            prompt[mine], output[mine] = component.sample(int(mine.sum()), rng)
        return prompt, output
