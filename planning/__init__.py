"""Scenarios, sweeps and capacity plans built on the simulator and the policies."""
