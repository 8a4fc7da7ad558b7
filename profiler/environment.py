"""The profile's environment stamp: GPU, clocks, power, software versions, memory (bytes, MHz, W).

GPU facts come from NVML (nvidia-ml-py) when it is there and the device is a CUDA GPU; on the CPU
the stamp says so. Clock-event reasons other than idle are collected after every grid point so a
throttled profile is reported, not silently kept.
"""
from __future__ import annotations

import platform
import time

import torch

try:
    import pynvml
except ImportError:  # CPU-only machines
    pynvml = None

# NVML clock-event bits that mean the SM clock was pulled down (idle and app-clock settings do not)
THROTTLE_BITS = {0x4: "sw_power_cap", 0x8: "hw_slowdown", 0x20: "sw_thermal", 0x40: "hw_thermal",
                 0x80: "hw_power_brake"}


class GpuMonitor:
    """NVML handle of one CUDA device, or an inert stand-in on the CPU."""

    def __init__(self, device: torch.device) -> None:
        self.handle = None
        self.reasons_seen: set[str] = set()
        if device.type == "cuda" and pynvml is not None:
            pynvml.nvmlInit()
            index = device.index if device.index is not None else torch.cuda.current_device()
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)

    def sm_clock_mhz(self) -> int | None:
        """Current SM clock."""
        return pynvml.nvmlDeviceGetClockInfo(self.handle, pynvml.NVML_CLOCK_SM) if self.handle else None

    def sample_throttle(self) -> None:
        """Record any clock-lowering reason active now."""
        if not self.handle:
            return
        getter = getattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or \
            pynvml.nvmlDeviceGetCurrentClocksThrottleReasons
        bits = getter(self.handle)
        self.reasons_seen.update(name for bit, name in THROTTLE_BITS.items() if bits & bit)

    def stamp(self) -> dict:
        """Static facts of the GPU."""
        if not self.handle:
            return {"gpu_name": "cpu", "cpu": platform.processor() or platform.machine()}
        text = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # noqa: E731
        return {
            "gpu_name": text(pynvml.nvmlDeviceGetName(self.handle)),
            "gpu_memory_bytes": int(pynvml.nvmlDeviceGetMemoryInfo(self.handle).total),
            "driver": text(pynvml.nvmlSystemGetDriverVersion()),
            "sm_clock_max_mhz": int(pynvml.nvmlDeviceGetMaxClockInfo(self.handle, pynvml.NVML_CLOCK_SM)),
            "power_limit_w": pynvml.nvmlDeviceGetPowerManagementLimit(self.handle) / 1000.0,
        }


def software_stamp() -> dict:
    """Versions that change step times (transformers is absent where only our own model runs)."""
    try:
        import transformers
        transformers_version = transformers.__version__
    except ImportError:
        transformers_version = None
    return {"torch": str(torch.__version__), "cuda": str(torch.version.cuda),
            "transformers": transformers_version, "python": platform.python_version()}


def cpu_model() -> str:
    """The host CPU's model name (Linux /proc/cpuinfo), or "" where it cannot be read."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def host_speed_stamp(device: torch.device, launches: int = 4000) -> dict:
    """How fast this host feeds the GPU: host microseconds per launch of a trivial op from Python,
    and nanoseconds per step of a plain Python loop (medians of 3). Steps that are launch-bound
    (eager engines, small batches) scale with these, and they differ between hosts."""
    loops = []
    for _ in range(3):
        start = time.perf_counter()
        sum(range(1_000_000))
        loops.append((time.perf_counter() - start) / 1e6)
    stamp = {"host_python_loop_ns": round(sorted(loops)[1] * 1e9, 2), "cpu_model": cpu_model()}
    if device.type == "cuda":
        x = torch.zeros(1, device=device)
        for _ in range(200):
            x.add_(1)
        torch.cuda.synchronize(device)
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(launches):
                x.add_(1)
            runs.append((time.perf_counter() - start) / launches)
            torch.cuda.synchronize(device)
        stamp["host_launch_us"] = round(sorted(runs)[1] * 1e6, 3)
    return stamp


def host_link_bytes_per_s(device: torch.device, size_bytes: int = 1 << 30) -> float | None:
    """Pinned host-to-device copy bandwidth (median of 5), or None off CUDA."""
    if device.type != "cuda":
        return None
    host = torch.empty(size_bytes, dtype=torch.uint8).pin_memory()
    dev = torch.empty(size_bytes, dtype=torch.uint8, device=device)
    start, stop, times = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True), []
    for _ in range(6):
        start.record()
        dev.copy_(host, non_blocking=True)
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / 1000.0)
    del host, dev
    return size_bytes / sorted(times[1:])[2]


def memory_facts(device: torch.device, weight_bytes: int, kv_bytes_per_token: int) -> dict:
    """Total, free-after-load and reserved (context, allocator) bytes of the device."""
    if device.type != "cuda":
        return {"gpu_memory_bytes": 0, "weight_bytes": weight_bytes, "kv_bytes_per_token": kv_bytes_per_token,
                "free_bytes_after_load": 0, "reserved_bytes": 0}
    torch.cuda.empty_cache()  # blocks freed while building (e.g. an fp32 -> bf16 cast) are not in use
    free, total = torch.cuda.mem_get_info(device)
    return {"gpu_memory_bytes": int(total), "weight_bytes": int(weight_bytes),
            "kv_bytes_per_token": int(kv_bytes_per_token), "free_bytes_after_load": int(free),
            "reserved_bytes": int(max(0, total - free - weight_bytes))}
