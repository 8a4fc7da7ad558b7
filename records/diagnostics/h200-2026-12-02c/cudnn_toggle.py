"""Is the cold-shape cost cuDNN's attention plan build? The speed probe twice (cold shapes, then the
same shapes again) in fresh engine threads with PyTorch's cuDNN SDPA backend on, off, and on again.

    python3 records/diagnostics/h200-2026-12-02c/cudnn_toggle.py
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
import torch  # noqa: E402

from batchsim.profiler.hf_cb_run import CbKnobs, _collect, open_manager  # noqa: E402
from batchsim.profiler.hf_model import build_model  # noqa: E402
from batchsim.profiler.speed_probe import probe_cb  # noqa: E402
from batchsim.simulator.models import get_model  # noqa: E402

model = build_model(get_model("llama-3-8b"))
for cudnn in (True, False, True):
    torch.backends.cuda.enable_cudnn_sdp(cudnn)
    manager = open_manager(model, CbKnobs(max_batch_tokens=512, num_blocks=2048))
    manager.start()
    try:
        vocab = model.config.vocab_size
        cold, warm = probe_cb(manager, vocab, _collect), probe_cb(manager, vocab, _collect)
    finally:
        manager.stop(block=True, timeout=60)
        manager.destroy()
    print(json.dumps({"cudnn_sdp": cudnn, "cold": cold, "warm": warm}), flush=True)
