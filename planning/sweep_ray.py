"""Sweeps on a Ray cluster: the same ``run_point`` per point, as Ray tasks.

Ray is optional (``pip install 'batchsim[ray]'``). With no address a local Ray instance is
started for the sweep and stopped after it; with an address (``ray://host:10001`` or
``auto``) the sweep joins that cluster. The batchsim packages travel with the job as Ray
``py_modules``, so worker nodes need Ray and batchsim's dependencies but not batchsim itself.
Each distinct trace is put in Ray's object store once and shared by the points that replay it.
"""
from __future__ import annotations

import importlib
import os
import tempfile
from dataclasses import replace

import batchsim

# what a sweep point imports on a worker
SUBPACKAGES = ("planning", "policies", "simulator", "traces")


def _package_dir(staging: str) -> str:
    """A copy of the whole ``batchsim`` package under ``staging``, for Ray's ``py_modules``.

    The subpackages live beside the ``batchsim`` folder in a source checkout (pyproject maps
    them in), so the folder alone is not the package: assemble it as an install would.
    """
    import shutil

    target = os.path.join(staging, "batchsim")
    shutil.copytree(os.path.dirname(batchsim.__file__), target,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in SUBPACKAGES:
        module = importlib.import_module(f"batchsim.{name}")
        source = os.path.dirname(module.__file__)
        destination = os.path.join(target, name)
        if not os.path.exists(destination):
            shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def run_sweep_ray(tasks: list, address: str | None = None, on_done=None,
                  num_cpus: int | None = None):
    """Run the sweep's tasks as Ray tasks; returns the results table in point order."""
    try:
        import ray
    except ImportError:
        raise ValueError("--ray needs Ray: pip install 'batchsim[ray]'") from None
    from batchsim.planning.sweep import results_frame, run_point

    started_here = not ray.is_initialized()
    staging = tempfile.TemporaryDirectory(prefix="batchsim-ray-")
    if started_here:
        ray.init(address=address, num_cpus=num_cpus if address is None else None,
                 include_dashboard=False, log_to_driver=False,
                 runtime_env={"py_modules": [_package_dir(staging.name)]})
    try:
        remote_point = ray.remote(lambda task, table: run_point(replace(task, table=table)))
        shared: dict[int, object] = {}
        refs = []
        for task in tasks:
            key = id(task.table)
            if key not in shared:
                shared[key] = ray.put(task.table)
            refs.append(remote_point.remote(replace(task, table=None), shared[key]))
        position = {ref: i for i, ref in enumerate(refs)}
        rows: list = [None] * len(refs)
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                rows[position[ref]] = ray.get(ref)
                if on_done:
                    on_done(tasks[position[ref]].index)
        return results_frame(rows)
    finally:
        if started_here:
            ray.shutdown()
        staging.cleanup()
