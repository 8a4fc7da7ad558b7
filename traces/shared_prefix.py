"""Synthetic shared prefixes: N system prompts x M users, and multi-turn conversations.

Each request belongs to one of ``users`` users (drawn uniformly; every request its own user
when ``users`` is 0); user u's requests start with system prompt u mod ``system_prompts``, of
``system_prompt_tokens`` tokens. Without ``multi_turn`` a request's prompt is the system prompt
plus its drawn length (the user's message). With ``multi_turn`` a user's requests, in arrival
order, are the turns of one conversation: turn t's prompt is the system prompt, every earlier
turn's message and answer (its output tokens), then its own message.

Prefix identity is written as ``prefix_block_ids``, one id per ``BLOCK_TOKENS`` (16) tokens: a
block inside the system prompt has the system prompt's id for that position; with multi_turn
every other block of the conversation, the turn's answer included (the next turn's prompt
holds it), has the conversation's; without multi_turn a request's own blocks get none. Equal
ids mean equal tokens, so a prefix cache can find what turns and users share.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

BLOCK_TOKENS = 16
_POSITIONS = 1 << 24  # block positions per prompt or conversation: ids never collide


def add_shared_prefixes(table: pd.DataFrame, rng: np.random.Generator, system_prompts: int = 0,
                        system_prompt_tokens: int = 0, users: int = 0,
                        multi_turn: bool = False) -> pd.DataFrame:
    """A copy of a canonical table (arrival-sorted) with shared prefixes added to its prompts."""
    if min(system_prompts, system_prompt_tokens, users) < 0:
        raise ValueError("system prompts, their tokens and users must be non-negative")
    if bool(system_prompts) != bool(system_prompt_tokens):
        raise ValueError("system prompts need both a count and a token length")
    n = len(table)
    user = rng.integers(0, users, n) if users else np.arange(n)
    message = table["prompt_tokens"].to_numpy(dtype=np.int64)
    output = table["output_tokens"].to_numpy(dtype=np.int64)
    history: dict[int, int] = {}  # user -> tokens of its conversation so far
    prompts, ids = [], []
    for i in range(n):
        u = int(user[i])
        before = history.get(u, system_prompt_tokens) if multi_turn else system_prompt_tokens
        prompt = before + int(message[i])
        if multi_turn:
            history[u] = prompt + int(output[i])
        prompts.append(prompt)
        named = prompt + int(output[i]) if multi_turn else prompt
        ids.append(_block_ids(u, named, system_prompts, system_prompt_tokens, multi_turn))
    out = table.copy()
    out["prompt_tokens"] = np.asarray(prompts, dtype=np.int64)
    out["prefix_block_ids"] = pd.Series(ids, dtype=object, index=out.index)
    return out


def _block_ids(user: int, tokens: int, system_prompts: int, system_tokens: int,
               multi_turn: bool) -> tuple[int, ...]:
    """Ids of the blocks of a request's first ``tokens`` tokens."""
    blocks = -(-tokens // BLOCK_TOKENS)
    system_blocks = system_tokens // BLOCK_TOKENS if system_prompts else 0
    system = user % system_prompts if system_prompts else 0
    ids = [-(1 + system * _POSITIONS + k) for k in range(min(system_blocks, blocks))]
    if multi_turn:
        ids += [1 + user * _POSITIONS + k for k in range(len(ids), blocks)]
    return tuple(ids)
