"""Re-run recorded static batches on this host and compare step times with the record (seconds).

A diagnostic for host dependence: for each chosen batch of an hf_static record it rebuilds prompts
of the members' recorded lengths, runs ``generate`` on them twice (cold: the first call with this
shape; warm: the second) for a few steps, and prints one JSON line per batch with the record's and
this host's prefill-plus-first-token time and median decode step. Run by hand on the GPU:

    python3 -m batchsim.profiler.static_probe records/static_conv_b8.json:2 records/static_conv_b32.json:1 --steps 40
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from batchsim.profiler.hf_model import build_model, random_prompts
from batchsim.profiler.hf_static_run import generate_batch
from batchsim.simulator.models import get_model


def record_batch(path: str, index: int) -> dict:
    """The batch's member prompt lengths and its recorded first-token and step times."""
    with open(path) as handle:
        data = json.load(handle)
    batch = data["batches"][index]
    members = [data["requests"][i] for i in batch["requests"]]
    longest = max(members, key=lambda r: len(r["token_times"]))
    gaps = np.diff(np.array(longest["token_times"]))
    return {"record": path, "batch": index, "rows": batch["size"], "prompt_lengths": [r["in"] for r in members],
            "record_first_token_s": round(batch["first_token"] - batch["dispatch"], 4),
            "record_step_median_s": round(float(np.median(gaps)), 4)}


def probe(model, batch: dict, steps: int, seed: int = 0) -> dict:
    """Cold and warm generate calls on prompts of the batch's lengths."""
    prompts = random_prompts(batch["prompt_lengths"], model.config.vocab_size, seed)
    out = dict(batch)
    for label in ("cold", "warm"):
        start = time.perf_counter()
        stamps, _ = generate_batch(model, prompts, steps)
        out[f"{label}_first_token_s"] = round(stamps[0] - start, 4)
        out[f"{label}_step_median_s"] = round(float(np.median(np.diff(stamps))), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    """Parse ``RECORD:BATCH`` pairs, probe each, print JSON lines."""
    parser = argparse.ArgumentParser(prog="python -m batchsim.profiler.static_probe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("batches", nargs="+", metavar="RECORD:BATCH")
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args(argv)
    model = build_model(get_model("llama-3-8b"))
    for item in args.batches:
        path, _, index = item.rpartition(":")
        print(json.dumps(probe(model, record_batch(path, int(index)), args.steps)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
