"""Stop a simulation as soon as its objectives are certain to fail.

A planner asks yes-or-no questions ("does N replicas meet the SLO?"); an overloaded run can take
far longer to simulate than a healthy one while its answer is settled early. ``ViolationTally``
counts finished requests above each objective's limit, with the same arithmetic as the summary
(seconds from the request's own timestamps, compared in milliseconds); ``GuardedPolicy`` wraps a
policy and checks the tally before each scheduling decision, raising ``ObjectivesFailed`` once a
count reaches ``violations_needed``. The answer is the one the full run would give: the bound
only fires when the percentile must exceed its limit.
"""
from __future__ import annotations

from batchsim.planning.slo import violations_needed
from batchsim.simulator.request import FINISHED


class ObjectivesFailed(Exception):
    """Raised inside a simulation once an objective can no longer be met.

    SimPy re-raises a process's exception as ``type(error)(*error.args)``, so the message is
    the only argument.
    """


class ViolationTally:
    """Requests over each objective's limit, across every replica of one question."""

    def __init__(self, objectives, total_requests: int, multi_token_requests: int) -> None:
        self.objectives = tuple(objectives)
        self.counts = [0] * len(self.objectives)
        self.needed = [violations_needed(multi_token_requests if o.metric == "tpot"
                                         else total_requests, o.percentile)
                       for o in self.objectives]
        self.limits_ms = [o.limit_s * 1000.0 for o in self.objectives]
        self._recorder = None
        self._settled = ""  # why an objective must fail, once it must

    def observe(self, recorder) -> None:
        """Follow ``recorder``'s finished requests; raise once an objective must fail."""
        if recorder is not self._recorder:  # a new simulation (the next replica of a split run)
            self._recorder = recorder
            recorder.listeners.append(self._ended)
        if self._settled:
            raise ObjectivesFailed(self._settled)

    def _ended(self, request) -> None:
        if request.status == FINISHED and not self._settled:
            self._count(request)

    def _count(self, request) -> None:
        for i, objective in enumerate(self.objectives):
            metric = objective.metric
            if metric == "ttft":
                value_s = request.first_token_s - request.arrival_s
            elif metric == "e2e":
                value_s = request.finish_s - request.arrival_s
            elif request.output_tokens > 1:
                value_s = (request.finish_s - request.first_token_s) / (request.output_tokens - 1)
            else:
                continue
            if value_s * 1000.0 > self.limits_ms[i]:
                self.counts[i] += 1
                if self.counts[i] >= self.needed[i]:
                    self._settled = (f"{objective.name}: {self.counts[i]} requests over the "
                                     f"limit settle it")
                    return


class GuardedPolicy:
    """A policy that consults a ViolationTally before every decision."""

    def __init__(self, inner, tally: ViolationTally) -> None:
        self.inner = inner
        self.tally = tally

    @property
    def slots(self) -> int:
        """The wrapped policy's batch capacity."""
        return self.inner.slots

    def admission_error(self, request):
        """The wrapped policy's answer."""
        return self.inner.admission_error(request)

    def schedule(self, state, now_s: float):
        """Check the tally, then let the wrapped policy decide."""
        self.tally.observe(state.recorder)
        return self.inner.schedule(state, now_s)
