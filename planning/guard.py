"""Stop a simulation as soon as its objectives are certain to fail.

A planner asks yes-or-no questions ("does N replicas meet the SLO?"); an overloaded run can take
far longer to simulate than a healthy one while its answer is settled early. ``ViolationTally``
counts finished requests above each objective's limit, with the same arithmetic as the summary
(seconds from the request's own timestamps, compared in milliseconds), and raises
``ObjectivesFailed`` from inside the simulation the moment a count reaches
``violations_needed``: it listens to the run's Recorder (``follow``), so the simulator's loop
pays nothing per step for it (it used to wrap the policy and look before every decision). The
answer is the one the full run would give: the bound only fires when the percentile must exceed
its limit.
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
        self._settled = ""  # why an objective must fail, once it must

    def follow(self, recorder) -> None:
        """Count ``recorder``'s finished requests (one recorder per simulation: each replica of a
        split run adds its own); the run raises ObjectivesFailed once an objective must fail."""
        recorder.listeners.append(self._ended)

    def _ended(self, request) -> None:
        if request.status == FINISHED and self._count(request):
            raise ObjectivesFailed(self._settled)

    def _count(self, request) -> bool:
        """Count the request's violations; True once an objective must fail."""
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
                    return True
        return False
