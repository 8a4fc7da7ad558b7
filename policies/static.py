"""Static (request-level) batching, as ``model.generate`` on a padded batch does it.

A batch of up to ``batch_size`` waiting requests is prefilled together with every prompt padded
to the longest, then decoded until its longest request finishes; finished rows keep computing
padding and nothing is admitted until the whole batch is done. With ``max_wait_s`` > 0 an idle
engine waits up to that long after the oldest waiting request arrived for the batch to fill;
with 0 it dispatches whatever is waiting as soon as it is idle. A batch is admitted only if its
padded KV (rows x blocks for the longest prompt plus the longest output) fits in free blocks.
"""
from __future__ import annotations

from batchsim.simulator.step import Step, StepShape

IDLE = Step()


class StaticPolicy:
    """Request-level batching with padding."""

    KNOBS = ("batch_size", "max_wait_s")  # the ServingConfig fields from_config reads

    def __init__(self, batch_size: int, max_wait_s: float = 0.0) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if max_wait_s < 0:
            raise ValueError("max_wait_s must be non-negative")
        self.batch_size = batch_size
        self.max_wait_s = max_wait_s
        self.slots = batch_size
        self._rows = 0
        self._padded_prompt = 0
        self._in_batch = False

    @classmethod
    def from_config(cls, config) -> "StaticPolicy":
        """Build from a ServingConfig."""
        return cls(config.batch_size, config.max_wait_s)

    def admission_error(self, request) -> str | None:
        """Static batching can serve any request the KV cache holds."""
        return None

    def schedule(self, state, now_s: float) -> Step:
        """Next decode step of the current batch, or a new padded batch."""
        if self._in_batch and state.num_running:
            # every row holds the padded prompt plus one KV entry per decode step taken so far;
            # rows decode in lockstep, so any running row tells how many (its first token came
            # from the prefill)
            row = next(state.running)
            context = self._padded_prompt + row.num_generated - 1
            shape = StepShape((), self._rows, self._rows * context, context)
            # nobody joins mid-batch, and finished rows keep computing padding to the end
            return Step(decode=True, shape=shape, ignores_arrivals=True, drain=True)
        self._in_batch = False
        waiting = state.waiting
        if not waiting:
            return IDLE
        if len(waiting) < self.batch_size and self.max_wait_s > 0:
            deadline_s = waiting[0].arrival_s + self.max_wait_s
            if now_s < deadline_s:
                return Step(wake_at_s=deadline_s)
        members = self._fill(state)
        self._rows = len(members)
        self._padded_prompt = max(r.prompt_tokens for r in members)
        self._in_batch = True
        shape = StepShape(((self._padded_prompt, 0),) * self._rows)
        return Step(tokens={r: r.tokens_to_compute for r in members}, shape=shape)

    def _fill(self, state) -> list:
        """The longest FIFO prefix of waiting requests whose padded KV fits."""
        members, prompt, output = [], 0, 0
        for request in state.waiting:
            if len(members) == self.batch_size:
                break
            new_prompt = max(prompt, request.prompt_tokens)
            new_output = max(output, request.output_tokens)
            rows = len(members) + 1
            if members and rows * state.blocks_for(new_prompt + new_output) > state.free_blocks:
                break
            members.append(request)
            prompt, output = new_prompt, new_output
        return members
