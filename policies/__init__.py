"""Batching policies: plain classes with ``schedule(view, now_s) -> Step``.

``view`` is the replica's read-only view (simulator/view.py); the returned ``Step``
(simulator/step.py) maps the requests that run to their tokens.

Each policy also has ``slots`` (its batch capacity, for slot utilization) and
``admission_error(request)`` (a reason it can never serve the request, or None), and the class
attribute ``KNOBS``: the ServingConfig fields it reads (sweeps skip values of the others).
"""
from batchsim.policies.chunked import ChunkedPrefillPolicy
from batchsim.policies.continuous import ContinuousPolicy
from batchsim.policies.static import StaticPolicy
from batchsim.policies.vllm_v1 import VllmV1Policy

POLICIES = {
    "static": StaticPolicy,
    "continuous": ContinuousPolicy,
    "chunked": ChunkedPrefillPolicy,
    "vllm": VllmV1Policy,
}


def policy_class(name: str):
    """The policy class for ``name``; the error lists the known names."""
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy '{name}' (known: {', '.join(POLICIES)})") from None
