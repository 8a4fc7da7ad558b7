"""``batchsim calibrate``: fit a calibrated profile (roofline + host time, achieved HBM and FLOP
fractions, per-sequence and per-token costs) to real runs, from per-request times alone.

Runs are vLLM run folders, vllm bench result JSON or our records. The profile is written to
DIR/calibration.yaml; any command takes it with --profile DIR and carries it to its own GPU by
the datasheet ratio. Runs given with --held-out are not fitted: the profile's error on them is
reported.

Example: batchsim calibrate ../shared/vllm_runs/RTX4090_Llama-3.1-8B --out cal/rtx4090 \\
             --held-out ../shared/vllm_runs/RTXPRO6000_Llama-3.1-8B
"""
from __future__ import annotations

import argparse
from pathlib import Path

from batchsim.cli.commands import HELP
from batchsim.cli.progress import add_quiet_flag, progress_bar


def register(subparsers) -> None:
    """Add the calibrate subcommand."""
    parser = subparsers.add_parser(
        "calibrate", help=HELP["calibrate"],
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="runs to fit: vLLM run folders, bench JSON, records")
    parser.add_argument("--out", required=True, help="directory for calibration.yaml")
    parser.add_argument("--held-out", nargs="*", default=[], help="runs to test on, not fitted")
    parser.add_argument("--model", help="model name or config.json, where a run does not name one")
    parser.add_argument("--gpu", help="GPU name or datasheet YAML, where a run does not name one")
    add_quiet_flag(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    """Fit, write the profile, and print its error on the fitted and held-out runs."""
    from batchsim.cli.validate_cmd import format_table, header
    from batchsim.planning.calibrate import MAX_EVALUATIONS, calibration_meta, evaluate, fit
    from batchsim.planning.run_inputs import load_observed_run
    from batchsim.simulator.calibrated_cost import write_calibration

    fitted_runs = [load_observed_run(path, args.model, args.gpu) for path in args.runs]
    held_runs = [load_observed_run(path, args.model, args.gpu) for path in args.held_out]
    name = Path(args.out).name
    with progress_bar(args, MAX_EVALUATIONS, "calibrate", "simulation") as bar:
        result = fit(fitted_runs, name=name, on_evaluation=bar.update)
    held = [evaluate(result.coefficients, observed, name) for observed in held_runs]
    path = write_calibration(args.out, calibration_meta(name, result, held))
    c = result.coefficients
    print(f"calibrated profile {name}: host {c.host_s * 1e3:.3f} ms/step, HBM fraction "
          f"{c.hbm_fraction:.3f}, FLOP fraction {c.flop_fraction:.3f}, {c.per_sequence_s * 1e6:.2f} "
          f"us/sequence, {c.per_token_s * 1e6:.3f} us/token ({result.evaluations} simulations, "
          f"loss {result.loss:.5f})")
    for title, comparisons in (("fitted", result.comparisons), ("held out", held)):
        for comparison in comparisons:
            print(f"\n[{title}] " + "\n".join(header(comparison)))
            print(format_table(comparison.rows()))
    print(f"\nwrote {path}")
    return 0
