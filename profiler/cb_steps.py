"""Per-step timing of the transformers continuous-batching loop (seconds, tokens).

The engine's background thread runs, per step, ``prepare_next_batch`` (schedule and build input
tensors on the host), ``_generation_step`` (launch the forward, sample, wait for the device) and
``update_batch`` (append tokens, finish requests). Wrapping those three bound methods on the batch
processor instance records each step's wall time split and the batch's composition. Needs no
torch import itself; it only reads attributes of the engine objects.
"""
from __future__ import annotations

from time import perf_counter

from batchsim.traces.record_format import STEP_LOG_COLUMNS



def _host_io(batch_processor):
    """The host-side IO object holding the batch just prepared (sync or async engine)."""
    io = batch_processor.inputs_and_outputs
    pairs = getattr(io, "io_pairs", None)
    if pairs is not None:
        return pairs[io.current_pair].host_io
    return io


def batch_shape(batch_processor) -> list[int]:
    """Composition of the batch just prepared: requests, decodes, query and KV tokens, new tokens."""
    io = _host_io(batch_processor)
    scheduled = io.requests_in_batch
    # A request decodes when it already holds generated tokens; one finishing its prompt does not.
    n_decode = sum(1 for fs in scheduled if fs.state.generated_len() > 0)
    n_new = sum(1 for fs in scheduled if fs.has_new_token)
    return [len(scheduled), n_decode, int(io.total_seqlen_q), int(io.num_q_tokens),
            int(sum(io.true_read_sizes)), int(io.max_kv_read), n_new]


class StepRecorder:
    """Wraps a batch processor's step methods and collects one row per executed step."""

    def __init__(self, batch_processor) -> None:
        self.rows: list[list] = []
        self.t0_s = perf_counter()
        self.first_token_s: dict[str, float] = {}  # request id -> perf_counter of its first token
        self.preemptions: list[tuple[float, str]] = []  # (perf_counter, request id) per eviction
        self._pending: dict = {}
        self._wrap(batch_processor)
        self._wrap_offloading(batch_processor)

    def restart(self, t0_s: float) -> None:
        """Drop collected rows and measure step starts from ``t0_s`` (a perf_counter value)."""
        self.rows = []
        self.first_token_s, self.preemptions = {}, []
        self.t0_s = t0_s

    def _wrap_offloading(self, bp) -> None:
        manager = getattr(bp, "offloading_manager", None)
        if manager is None:
            return
        offload = manager.offload_requests

        def logged_offload():
            before = set(bp.scheduler.active_requests)  # read each time: a reset replaces the dict
            evicted = offload()
            if evicted:
                now = perf_counter()
                gone = [rid for rid in before if rid not in bp.scheduler.active_requests]
                self.preemptions += [(now, rid) for rid in gone]
                self._pending["preempted"] = self._pending.get("preempted", 0) + len(gone)
            return evicted

        manager.offload_requests = logged_offload

    def _note_first_tokens(self, scheduled) -> None:
        firsts = self.first_token_s
        for future in scheduled:
            state = future.state
            if future.has_new_token and state.request_id not in firsts and not state._true_initial_tokens:
                stamps = state._timestamps  # the engine's own stamp when it records timestamps
                firsts[state.request_id] = stamps[0] if stamps else perf_counter()

    def relative_first_tokens(self) -> dict[str, float]:
        """First-token times of requests, seconds from ``t0_s``."""
        return {rid: t - self.t0_s for rid, t in self.first_token_s.items()}

    def preemption_log(self) -> list[list]:
        """Evictions as [seconds from t0_s, request id], in order."""
        return [[round(t - self.t0_s, 6), rid] for t, rid in self.preemptions if t >= self.t0_s]

    def _wrap(self, bp) -> None:
        prepare, step, update = bp.prepare_next_batch, bp._generation_step, bp.update_batch
        pending = self._pending

        def timed_prepare():
            start = perf_counter()
            ready = prepare()
            if ready:
                pending["start"] = start
                pending["prepare"] = perf_counter() - start
                pending["shape"] = batch_shape(bp)
            return ready

        def timed_step(model):
            start = perf_counter()
            step(model)
            pending["forward"] = perf_counter() - start

        def timed_update():
            scheduled = list(_host_io(bp).requests_in_batch)
            start = perf_counter()
            update()
            took = perf_counter() - start
            self._note_first_tokens(scheduled)
            if "start" in pending:
                self.rows.append([pending["start"] - self.t0_s, pending["prepare"],
                                  pending.get("forward", 0.0), took, *pending["shape"],
                                  pending.get("preempted", 0)])
                pending.clear()

        bp.prepare_next_batch = timed_prepare
        bp._generation_step = timed_step
        bp.update_batch = timed_update

    def table(self) -> dict:
        """Collected steps as {"columns": [...], "rows": [[...], ...]}, times rounded to microseconds."""
        # A warm-up step can finish its bookkeeping just after restart(); it starts before zero.
        rows = [[round(v, 6) if isinstance(v, float) else v for v in row]
                for row in self.rows if row[0] >= 0]
        return {"columns": list(STEP_LOG_COLUMNS), "rows": rows}
