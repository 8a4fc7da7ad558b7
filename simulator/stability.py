"""Was a run stable, backlogged or overloaded? Judged from how its queue grew.

The arrival window (first to last arrival) is cut into thirds; for the requests arriving in each
third take the mean queueing delay (arrival to first admission), and take the backlog (requests
arrived but not finished) at two thirds of the window and at its end. With ``service`` the
median time a finished request spends after admission:

- stable: requests of the last third wait no more than one ``service`` longer than those of the
  first third (the queue does not grow);
- overloaded: the delay grows third after third, ends more than one ``service`` above where it
  started, and the backlog is larger at the end of the window than at two thirds: arrivals
  outpace service and the queue would grow without bound if the trace went on;
- backlogged: the rest: a queue built up (a burst) but is not growing steadily.

A trace whose requests all arrive at once has no window to judge: it is reported as ``batch``.
"""
from __future__ import annotations

import numpy as np

VERDICTS = ("stable", "backlogged", "overloaded", "batch")


def stability(arrival_s: np.ndarray, queue_s: np.ndarray, finish_s: np.ndarray,
              finished: np.ndarray) -> dict:
    """The verdict and the numbers it rests on (delays in milliseconds, backlogs in requests)."""
    start, end = (float(arrival_s.min()), float(arrival_s.max())) if arrival_s.size else (0, 0)
    if end <= start or not finished.any():
        return {"verdict": "batch", "queue_delay_by_third_ms": None, "backlog_growth": None}
    third = (end - start) / 3
    part = np.minimum(((arrival_s - start) // third).astype(np.int64), 2)
    admitted = ~np.isnan(queue_s)
    delays = [float(queue_s[(part == k) & admitted].mean()) if ((part == k) & admitted).any()
              else 0.0 for k in range(3)]
    service = float(np.median((finish_s - arrival_s - queue_s)[finished]))
    done = np.where(finished, finish_s, np.inf)
    backlog = [int((arrival_s <= t).sum() - (done <= t).sum()) for t in (start + 2 * third, end)]
    growing = delays[0] < delays[1] < delays[2] and delays[2] - delays[0] > service
    if delays[2] - delays[0] <= service:
        verdict = "stable"
    elif growing and backlog[1] > backlog[0]:
        verdict = "overloaded"
    else:
        verdict = "backlogged"
    return {"verdict": verdict, "queue_delay_by_third_ms": [1000.0 * d for d in delays],
            "backlog_growth": backlog[1] - backlog[0]}
