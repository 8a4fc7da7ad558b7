"""``batchsim validate``: re-simulate recorded real-engine runs and print real vs simulated.

Example: batchsim validate records/cb_conv_light.json --out fidelity/
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers) -> None:
    """Add the validate subcommand."""
    parser = subparsers.add_parser(
        "validate", help="compare the simulator with recorded real-engine runs",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("records", nargs="+", help="record JSON files")
    parser.add_argument("--profile", help="profile name or directory (default: bundled match)")
    parser.add_argument("--out", help="directory for fidelity.csv, fidelity.json and CDF figures")
    parser.add_argument("--step-time", choices=("mean", "sampled"), default="mean",
                        help="price each step at its mean (default) or draw it from the profile's measured "
                             "spread, seeded by --seed")
    parser.add_argument("--seed", type=int, default=0, help="seed of sampled step times")
    parser.add_argument("--allow-profile-mismatch", action="store_true",
                        help="run on a profile measured under another engine configuration (the report names "
                             "the settings that differ)")
    parser.set_defaults(func=run)


def format_table(rows: list[dict]) -> str:
    """Aligned text table of comparison rows."""
    lines = [f"{'metric':<28}{'real':>12}{'simulated':>12}{'error':>9}"]
    for row in rows:
        lines.append(f"{row['label']:<28}{row['real']:>12.1f}{row['simulated']:>12.1f}"
                     f"{row['rel_error']:>+9.1%}")
    return "\n".join(lines)


def run(args) -> int:
    """Validate each record and print its table."""
    from batchsim.planning.costs import describe_cost_model
    from batchsim.planning.records import load_record
    from batchsim.planning.validate import compare

    all_rows = []
    for path in args.records:
        comparison = compare(load_record(path), args.profile, args.step_time, args.seed,
                             args.allow_profile_mismatch)
        serving = comparison.run.serving
        print(f"== {comparison.record.case} ({comparison.record.engine}, "
              f"{len(comparison.record.data['requests'])} requests) ==")
        print(f"simulated as {serving.policy}: {describe_cost_model(comparison.run.cost_model)}")
        print(f"step times: {comparison.run.summary['step_time']}")
        for mismatch in comparison.run.summary["profile_mismatch"]:
            print(f"PROFILE MISMATCH (run anyway): {mismatch}")
        print(format_table(comparison.rows()))
        print()
        all_rows += comparison.rows()
        if args.out:
            _write_figure(comparison, Path(args.out))
    if args.out:
        import pandas as pd

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(all_rows).to_csv(out / "fidelity.csv", index=False)
        (out / "fidelity.json").write_text(json.dumps(all_rows, indent=2) + "\n")
        print(f"wrote {out}/fidelity.csv, fidelity.json and one CDF figure per record")
    return 0


def _write_figure(comparison, out: Path) -> None:
    import numpy as np

    from batchsim.plots.validation import validation_cdfs
    from batchsim.simulator.summary import request_table

    reqs = [r for r in comparison.record.data["requests"] if r["token_times"]]
    arrival = np.array([r["arrival"] for r in reqs])
    first = np.array([r["token_times"][0] for r in reqs])
    last = np.array([r["token_times"][-1] for r in reqs])
    n = np.array([len(r["token_times"]) for r in reqs])
    multi = n > 1
    real = {"ttft": (first - arrival) * 1e3, "e2e": (last - arrival) * 1e3,
            "tpot": (last - first)[multi] / (n[multi] - 1) * 1e3}
    table = request_table(comparison.run.result)
    done = table["finished"]
    sim = {"ttft": table["ttft_s"][done] * 1e3, "e2e": table["e2e_s"][done] * 1e3,
           "tpot": table["tpot_s"][done][~np.isnan(table["tpot_s"][done])] * 1e3}
    out.mkdir(parents=True, exist_ok=True)
    figure = validation_cdfs(comparison.record.case, real, sim)
    stem = Path(comparison.record.source).stem
    figure.savefig(out / f"{stem}_cdf.png", dpi=120)
    figure.savefig(out / f"{stem}_cdf.svg")
