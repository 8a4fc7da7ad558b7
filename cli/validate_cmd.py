"""``batchsim validate``: re-simulate real runs and print real vs simulated.

Inputs: our records (records/*.json), vLLM run folders (requests.jsonl + meta.json) and
``vllm bench serve --save-result --save-detailed`` JSON (give --gpu; engine settings default to
vLLM's unless given).

Example: batchsim validate records/cb_conv_light.json ../shared/vllm_runs/RTX4090_Llama-3.1-8B
"""
from __future__ import annotations

import argparse
from pathlib import Path

from batchsim.cli.commands import HELP
from batchsim.cli.progress import add_quiet_flag, progress_bar

OVERRIDE_FLAGS = (("--max-num-seqs", "max_num_seqs"), ("--max-num-batched-tokens", "max_num_batched_tokens"),
                  ("--kv-blocks", "kv_blocks"), ("--block-size", "block_size"))


def register(subparsers) -> None:
    """Add the validate subcommand."""
    parser = subparsers.add_parser(
        "validate", help=HELP["validate"],
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("records", nargs="+", help="record JSON files, vLLM run folders or "
                        "vllm bench result JSON")
    parser.add_argument("--profile", help="profile name or directory, a calibrated profile, or "
                        "'roofline' (default: bundled match, else roofline)")
    parser.add_argument("--model", help="model name or config.json, where the run does not name one")
    parser.add_argument("--gpu", help="GPU name or datasheet YAML, where the run does not name one")
    for flag, _ in OVERRIDE_FLAGS:
        parser.add_argument(flag, type=int, help="engine setting, where the run does not record it")
    parser.add_argument("--out", help="directory for fidelity.csv, fidelity.json and CDF figures")
    parser.add_argument("--step-time", choices=("mean", "sampled"), default="mean",
                        help="price each step at its mean (default) or draw it from the profile's measured "
                             "spread, seeded by --seed")
    parser.add_argument("--seed", type=int, default=0, help="seed of sampled step times")
    parser.add_argument("--allow-profile-mismatch", action="store_true",
                        help="run on a profile measured under another engine configuration (the report names "
                             "the settings that differ)")
    parser.add_argument("--strict-range", action="store_true",
                        help="fail (exit 2) when a replay goes beyond the profile's measured range")
    add_quiet_flag(parser)
    parser.set_defaults(func=run)


def format_table(rows: list[dict]) -> str:
    """Aligned text table of comparison rows."""
    lines = [f"{'metric':<28}{'real':>12}{'simulated':>12}{'error':>9}"]
    for row in rows:
        lines.append(f"{row['label']:<28}{row['real']:>12.1f}{row['simulated']:>12.1f}"
                     f"{row['rel_error']:>+9.1%}")
    return "\n".join(lines)


def header(comparison) -> list[str]:
    """The lines above a comparison's table: the run, how it was simulated, and its notes."""
    from batchsim.planning.costs import describe_cost_model

    run, serving = comparison.record, comparison.run.serving
    lines = [f"== {run.case} ({run.engine}, {len(run.requests)} requests; {run.model.name} on "
             f"{run.gpu.name}) ==",
             f"simulated as {serving.policy} (max_num_seqs={serving.max_num_seqs} "
             f"max_num_batched_tokens={serving.max_num_batched_tokens} block_size={serving.block_size} "
             f"kv_blocks={serving.kv_blocks}): "
             f"{describe_cost_model(comparison.run.cost_model)}"]
    lines.append(f"step times: {comparison.run.summary['step_time']}")
    lines += [f"PROFILE MISMATCH (run anyway): {m}" for m in comparison.run.summary["profile_mismatch"]]
    hit_rate = comparison.run.summary.get("prefix_cache_hit_rate")
    if hit_rate is not None:
        lines.append(f"simulated prefix-cache hit rate: {hit_rate:.1%}")
    lines += [f"note: {note}" for note in run.notes]
    return lines


def run(args) -> int:
    """Validate each run and print its table."""
    from batchsim.cli.replay import check_strict_range
    from batchsim.planning.costs import cost_model_keys
    from batchsim.planning.run_inputs import load_observed_run
    from batchsim.planning.validate import compare

    overrides = {name: getattr(args, name) for _, name in OVERRIDE_FLAGS}
    all_rows = []
    with progress_bar(args, len(args.records), "validate", "run") as bar:
        for path in args.records:
            observed = load_observed_run(path, args.model, args.gpu, overrides)
            comparison = compare(observed, args.profile, step_time=args.step_time, seed=args.seed,
                                 allow_profile_mismatch=args.allow_profile_mismatch)
            bar.clear()  # the report goes to stdout between bar updates
            print("\n".join(header(comparison)))
            entry = comparison.run.summary["extrapolation"]
            print(f"measured range: {entry['description']}")
            check_strict_range(args, comparison.run.summary, f"the replay of {path}")
            print(format_table(comparison.rows()))
            print()
            evidence = {**cost_model_keys(comparison.run.cost_model),
                        "notes": "; ".join(observed.notes), "range_status": entry["status"],
                        "extrapolated_share": entry["share_outside"],
                        "extrapolation_worst_ratio": entry["worst_ratio"]}
            all_rows += [{**row, **evidence} for row in comparison.rows()]
            if args.out:
                _write_figure(comparison, Path(args.out))
            bar.update(1)
    if args.out:
        import pandas as pd

        from batchsim.atomic import atomic_files, dumps_json

        out = Path(args.out)
        with atomic_files([out / "fidelity.csv", out / "fidelity.json"]) as (csv_temp, json_temp):
            pd.DataFrame(all_rows).to_csv(csv_temp, index=False)
            json_temp.write_text(dumps_json(all_rows, indent=2) + "\n")
        print(f"wrote {out}/fidelity.csv, fidelity.json and one CDF figure per run")
    return 0


def _write_figure(comparison, out: Path) -> None:
    import numpy as np

    from batchsim.planning.costs import describe_cost_model
    from batchsim.plots.validation import validation_cdfs
    from batchsim.simulator.summary import request_table

    reqs = comparison.record.requests
    known = reqs.first_token_known & ~np.isnan(reqs.last_token_s)
    done = ~np.isnan(reqs.last_token_s)
    multi = known & (reqs.output_tokens > 1)
    real = {"ttft": (reqs.first_token_s - reqs.arrival_s)[known] * 1e3,
            "e2e": (reqs.last_token_s - reqs.arrival_s)[done] * 1e3,
            "tpot": ((reqs.last_token_s - reqs.first_token_s)[multi]
                     / (reqs.output_tokens[multi] - 1) * 1e3)}
    table = request_table(comparison.run.result)
    done = table["finished"]
    sim = {"ttft": table["ttft_s"][done] * 1e3, "e2e": table["e2e_s"][done] * 1e3,
           "tpot": table["tpot_s"][done][~np.isnan(table["tpot_s"][done])] * 1e3}
    from batchsim.atomic import atomic_files

    serving = comparison.run.serving
    figure = validation_cdfs(comparison.record.case, real, sim,
                             f"simulated as {serving.policy}, "
                             f"{describe_cost_model(comparison.run.cost_model)}")
    stem = Path(comparison.record.source).stem
    with atomic_files([out / f"{stem}_cdf.png", out / f"{stem}_cdf.svg"]) as (png, svg):
        figure.savefig(png, dpi=120, format="png")
        figure.savefig(svg, format="svg")
