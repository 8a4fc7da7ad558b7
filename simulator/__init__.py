"""batchsim simulator: a discrete-event model of LLM-serving replicas.

Submodules are imported explicitly (``from batchsim.simulator.request import Request``); this package
imports nothing at load time so that GPU-side code can use its data modules without SimPy.
"""
