"""Routers: which replica an arriving request joins.

``round-robin`` cycles through replicas; ``least-outstanding`` picks the replica with the fewest
requests waiting or running (ties to the lowest index), as load balancers with request counting
do. A router is a plain object with ``choose(replicas) -> index`` and
``arrivals_before(index, num_replicas)``: how many of the next arrivals surely go elsewhere
before one may go to replica ``index`` (the simulator lets a replica run ahead until then), and
``reads_state``: whether choosing looks at the replicas' queues.
"""
from __future__ import annotations


class RoundRobinRouter:
    """Cycle through replicas in order."""

    reads_state = False  # chooses without looking at the replicas

    def __init__(self) -> None:
        self._next = 0

    def choose(self, replicas) -> int:
        """Index of the replica for the next request."""
        index = self._next % len(replicas)
        self._next += 1
        return index

    def arrivals_before(self, index: int, num_replicas: int) -> int:
        """Arrivals routed to other replicas before the next one for ``index``."""
        return (index - self._next) % num_replicas


class LeastOutstandingRouter:
    """Send to the replica with the fewest outstanding requests."""

    reads_state = True

    def choose(self, replicas) -> int:
        """Index of the least-loaded replica."""
        best, best_load = 0, None
        for index, replica in enumerate(replicas):
            load = replica.outstanding
            if best_load is None or load < best_load:
                best, best_load = index, load
        return best

    def arrivals_before(self, index: int, num_replicas: int) -> int:
        """The next arrival may go to any replica: none is known to go elsewhere."""
        return 0


ROUTERS = {"round-robin": RoundRobinRouter, "least-outstanding": LeastOutstandingRouter}


def make_router(name: str):
    """A new router by name; the error lists the known names."""
    try:
        return ROUTERS[name]()
    except KeyError:
        raise ValueError(f"unknown router '{name}' (known: {', '.join(ROUTERS)})") from None
