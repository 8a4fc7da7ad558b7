"""batchsim: a discrete-event simulator and capacity planner for LLM-serving batching policies.

The subpackages (simulator, policies, traces, profiler, planning, plots, cli) live beside this
folder in the source tree; pyproject.toml installs them under this one import namespace.
"""
import os as _os

__version__ = "0.1.0"

# Run from a source copy with nothing installed (the GPU machine, which lacks SimPy and pip
# access): the subpackages sit one folder up. An install maps them in and never needs this.
_source_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_source_root, "simulator", "replica.py")):
    __path__.append(_source_root)
