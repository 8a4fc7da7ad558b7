"""Does the engine slow down as its thread's cuDNN plan cache grows? The speed probe (fresh shapes
every time: each starts past the last one's contexts) run back to back in one engine thread; each
probe adds about 60 plans. Then the same probes, same lengths, with cuDNN SDPA off in a fresh
engine (no plans): the control for the longer contexts of later probes. Prints each probe's step
time and the CUDA memory the process holds.

    python3 records/diagnostics/h200-2026-12-02c/plan_growth.py 14
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
import torch  # noqa: E402

from batchsim.profiler.hf_cb_run import CbKnobs, _collect, open_manager  # noqa: E402
from batchsim.profiler.hf_model import build_model  # noqa: E402
from batchsim.profiler import speed_probe  # noqa: E402
from batchsim.simulator.models import get_model  # noqa: E402

model = build_model(get_model("llama-3-8b"))
for cudnn in (True, False):
    torch.backends.cuda.enable_cudnn_sdp(cudnn)
    speed_probe._probes_run[0] = 0
    manager = open_manager(model, CbKnobs(max_batch_tokens=512, num_blocks=2048))
    manager.start()
    try:
        for k in range(int(sys.argv[1])):
            probe = speed_probe.probe_cb(manager, model.config.vocab_size, _collect)
            print(json.dumps({"cudnn_sdp": cudnn, "probe": k, **probe,
                              "reserved_gib": round(torch.cuda.memory_reserved() / 2**30, 2)}), flush=True)
    finally:
        manager.stop(block=True, timeout=60)
        manager.destroy()
