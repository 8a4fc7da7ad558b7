"""Prefix caching as vLLM v1 does it: full KV blocks named by their whole prefix, shared, kept
after use in an LRU free queue until evicted.

A block's key is a chain hash: the key of the block before it plus what this block holds. Only
full blocks are cached. A block held by running requests is reference-counted and counted once
in ``kv.used_blocks``. As in vLLM's block pool, every freed block, cached or not, joins the end
of one free queue (``kv.cached_blocks`` counts the queue; blocks never used yet come first), and
an allocation takes the queue's front, least recently freed first, evicting what it held. A
request frees its blocks last block first, so its tail goes before the prefix others may share.
A lookup stops at the first block not cached and never covers a prompt's last token (vLLM
recomputes at least one token to get logits).

What a block holds comes from the trace: ``prefix_block_ids`` name the request's first tokens
in ids of ``id_tokens`` tokens each (equal ids = equal prefix, as Mooncake's hash_ids or hashes
of token ids; ids may run on past the prompt into the output, as a multi-turn conversation's
do); a block of ``kv.block_size`` tokens inside that range is keyed by the ids it covers. The
request's other full blocks are its own: no other request can hit them, so they are kept as one
run per request (counted, evicted from the run's tail), which re-hits when the request is
readmitted after a recompute preemption. vLLM hashes every full block by its token ids, prompt
or generated, so a preempted request's own run holds all its full computed blocks, generated
ones too; on readmission the hit covers them up to the last full block before its last token,
and only the evicted tail and the partial last block are recomputed. A finished request's
generated blocks are cached only where its ids name them (nobody else can hit the others; vLLM
caches them as they fill, which only a request arriving while their owner still runs would
see); a partial last block is never cached. Sizes are tokens and blocks.

Hit rate as vLLM reports it: hit tokens / queried tokens, both counted when a waiting request
with nothing computed is admitted (query = its tokens so far). As vLLM's PrefixCacheStats do,
admissions after a preemption are counted apart (``preempted_*``), out of the hit rate.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from batchsim.simulator.kv_cache import BlockManager
from batchsim.simulator.request import Request


def chain_keys(ids, id_tokens: int, block_size: int, tokens: int) -> list[int]:
    """Keys of the full ``block_size`` blocks among the first ``tokens`` that ``ids``
    (``id_tokens`` tokens each) cover."""
    blocks = min(len(ids) * id_tokens, tokens) // block_size
    keys, parent = [], 0
    for j in range(blocks):
        parent = hash((parent, ids[j * block_size // id_tokens],
                       ids[((j + 1) * block_size - 1) // id_tokens]))
        keys.append(parent)
    return keys


_NO_KEYS: list[int] = []  # shared, never changed


@dataclass(frozen=True, slots=True)
class PrefixCacheTally:
    """A cache's hit-rate counters, kept after its simulation (tokens)."""

    query_tokens: int
    hit_tokens: int


@dataclass(slots=True)
class _Holding:
    """The cached blocks a running request holds, in block order."""

    keys: list[int] = field(default_factory=list)  # shared blocks it holds a reference to
    own: int = 0  # blocks of its own run (its full prompt blocks past the shared ones)
    considered: int = 0  # prompt blocks already hit or registered


class PrefixCache:
    """Reference-counted cached blocks and the LRU queue of free cached blocks of one replica."""

    def __init__(self, kv: BlockManager, id_tokens: int | None = None) -> None:
        self.kv = kv
        kv.evict = self._evict
        self.id_tokens = id_tokens
        self.query_tokens = 0
        self.hit_tokens = 0
        self.preempted_query_tokens = 0  # the same, for admissions after a preemption
        self.preempted_hit_tokens = 0
        self._refs: dict[int, int] = {}  # cached shared block -> running requests holding it
        # free cached blocks, least recently freed first: a shared block's key -> 1, or a
        # request -> the blocks of its own run
        self._free: OrderedDict = OrderedDict()
        self._held: dict[Request, _Holding] = {}
        self._chains: dict[Request, list[int]] = {}

    @property
    def hit_rate(self) -> float:
        """Hit tokens / queried tokens (0 when nothing was queried)."""
        return self.hit_tokens / self.query_tokens if self.query_tokens else 0.0

    def tally(self) -> PrefixCacheTally:
        """The hit-rate counters alone."""
        return PrefixCacheTally(self.query_tokens, self.hit_tokens)

    def _chain(self, request: Request) -> list[int]:
        if not request.prefix_block_ids:
            return _NO_KEYS
        keys = self._chains.get(request)
        if keys is None:
            ids = request.prefix_block_ids
            tokens = request.prompt_tokens + request.output_tokens
            keys = (chain_keys(ids, self.id_tokens, self.kv.block_size, tokens)
                    if ids and self.id_tokens else [])
            self._chains[request] = keys
        return keys

    def lookup(self, request: Request) -> tuple[int, int]:
        """(tokens of ``request`` found cached, how many of their blocks are free cached)."""
        shared, own, evictable = self._hits(request)
        return (shared + own) * self.kv.block_size, evictable

    def _hits(self, request: Request) -> tuple[int, int, int]:
        max_blocks = (request.num_tokens - 1) // self.kv.block_size
        if not request.prefix_block_ids:  # the common case without ids: its own run at most
            own = self._free.get(request, 0)
            own = own if own < max_blocks else max_blocks
            return 0, own, own
        keys = self._chain(request)
        refs = self._refs
        shared = evictable = 0
        for key in keys[:max_blocks]:
            holders = refs.get(key)
            if holders is None:
                return shared, 0, evictable
            shared += 1
            evictable += holders == 0
        own = min(self._free.get(request, 0), max_blocks - shared)
        return shared, own, evictable + own

    def admit(self, request: Request) -> None:
        """Give a request being admitted its cached prefix as computed tokens; count the query."""
        shared, own, _ = self._hits(request)
        kv, refs, free = self.kv, self._refs, self._free
        holding = self._held[request] = _Holding()
        taken = 0  # free cached blocks it takes back into use
        if shared:
            for key in self._chain(request)[:shared]:
                holders = refs[key]
                if not holders:
                    del free[key]
                    taken += 1
                refs[key] = holders + 1
                holding.keys.append(key)
        stale = free.pop(request, 0) if own or request.preemptions else 0  # its own run: the hit part is used, the rest dropped
        kv.cached_blocks -= taken + stale
        kv.used_blocks += taken + own
        if kv.used_blocks > kv.peak_used_blocks:
            kv.peak_used_blocks = kv.used_blocks
        holding.own = own
        holding.considered = shared + own
        request.num_computed_tokens = (shared + own) * kv.block_size
        request.kv_blocks = shared + own
        if request.preemptions:  # vLLM keeps a resumed request out of its hit rate
            self.preempted_query_tokens += request.num_tokens
            self.preempted_hit_tokens += request.num_computed_tokens
        else:
            self.query_tokens += request.num_tokens
            self.hit_tokens += request.num_computed_tokens

    def register(self, request: Request, tokens: int) -> None:
        """Cache the full prompt blocks among the first ``tokens`` of a running request (its
        blocks for them are allocated)."""
        if not request.prefix_block_ids:
            # nothing to share: only its own run counts, and release registers every block
            # the request computed before it queues them (a no-op here, once per prompt step)
            return
        holding = self._held.get(request)
        if holding is None:  # admitted after a swap preemption: its blocks are its own
            holding = self._held[request] = _Holding()
        self._register_blocks(request, holding, min(tokens, request.prompt_tokens))

    def _register_blocks(self, request: Request, holding: _Holding, tokens: int) -> None:
        full = tokens // self.kv.block_size
        if full <= holding.considered:
            return
        keys = self._chain(request)
        refs = self._refs
        for key in keys[holding.considered:full]:
            if key not in refs:  # else another request computes it too: this copy stays private
                refs[key] = 1
                holding.keys.append(key)
        holding.own += full - max(holding.considered, min(full, len(keys)))
        holding.considered = full

    def shared_blocks(self, request: Request) -> int:
        """Blocks of a running request that other running requests hold too."""
        holding = self._held.get(request)
        return sum(self._refs[k] > 1 for k in holding.keys) if holding else 0

    def release(self, request: Request) -> None:
        """Free a finished or preempted request's blocks (synced count in ``kv_blocks``),
        its last block first."""
        kv, refs, free = self.kv, self._refs, self._free
        holding = self._held.pop(request, None) or _Holding()
        keys = self._chain(request)
        if not request.done:  # preempted: every full block it computed, prompt or generated
            self._register_blocks(request, holding, request.num_computed_tokens)
        elif len(keys) > holding.considered:  # its ids name generated blocks: cache the full ones
            computed = min(request.num_computed_tokens, len(keys) * kv.block_size)
            self._register_blocks(request, holding, computed)
        unshared = request.kv_blocks - len(holding.keys)  # its own run and blocks with no key
        if request.done or not holding.own:  # nothing in them can be hit again
            if unshared:
                _queue_unhittable(free, unshared)
        else:  # tail first: the blocks with no key, then its own run
            if unshared > holding.own:
                _queue_unhittable(free, unshared - holding.own)
            free[request] = holding.own
        kv.used_blocks -= unshared
        kv.cached_blocks += unshared
        for key in reversed(holding.keys):
            holders = refs[key] - 1
            refs[key] = holders
            if not holders:
                free[key] = 1
                kv.used_blocks -= 1
                kv.cached_blocks += 1
        if request.done:
            self._chains.pop(request, None)

    def _evict(self, blocks: int) -> None:
        """Drop ``blocks`` free cached blocks, least recently freed first."""
        free, refs = self._free, self._refs
        self.kv.cached_blocks -= blocks
        while blocks:
            key, count = next(iter(free.items()))
            if count > blocks:  # part of a run: its tail goes first
                free[key] = count - blocks
                return
            del free[key]
            blocks -= count
            if type(key) is int:
                del refs[key]

    def check(self) -> None:
        """Raise if the block accounting is inconsistent (for tests)."""
        kv = self.kv
        assert kv.cached_blocks == sum(self._free.values()), "cached count != free queue"
        assert kv.used_blocks + kv.cached_blocks <= kv.total_blocks, "blocks over capacity"
        assert all(self._refs[k] == 0 for k in self._free if type(k) is int)


def _queue_unhittable(free: dict, blocks: int) -> None:
    """Queue ``blocks`` free cached blocks that no lookup can hit (keyed by a fresh object);
    next to such a run at the tail they join it, since eviction takes blocks off the front one
    by one and no lookup tells such runs apart (fewer queue entries, the same evictions)."""
    if free:
        last = next(reversed(free))
        if type(last) is object:
            free[last] += blocks
            return
    free[object()] = blocks
