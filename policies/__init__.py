"""Batching policies: plain classes with ``schedule(state, now_s) -> Batch``.

Each policy also has ``slots`` (its batch capacity, for slot utilization) and
``admission_error(request)`` (a reason it can never serve the request, or None), and the class
attribute ``KNOBS``: the ServingConfig fields it reads (sweeps skip values of the others).
"""
from batchsim.policies.chunked import ChunkedPrefillPolicy
from batchsim.policies.continuous import ContinuousPolicy
from batchsim.policies.static import StaticPolicy

POLICIES = {
    "static": StaticPolicy,
    "continuous": ContinuousPolicy,
    "chunked": ChunkedPrefillPolicy,
}


def policy_class(name: str):
    """The policy class for ``name``; the error lists the known names."""
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy '{name}' (known: {', '.join(POLICIES)})") from None
