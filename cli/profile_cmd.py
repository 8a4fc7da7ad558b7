"""``batchsim profile``: measure a model on this machine's GPU; ``batchsim profile show``: inspect a profile.

Examples:
  batchsim profile --model llama-3-8b --mode engine --out profiles/h200-llama-3-8b-engine
  batchsim profile --model llama-3-70b --tp 4 --mode cuda-graph --layers 10,20 --out profiles/h200-llama-3-70b-tp4-cuda-graph
  batchsim profile show h200-llama-3-8b-engine --plot steps.png
  batchsim profile served --base h200-llama-3-8b-engine records/cb_chat_light.json ... --out profiles/served
"""
from __future__ import annotations

import argparse

from batchsim.cli.commands import HELP
from batchsim.profiler.options import add_profile_arguments
from batchsim.simulator.hardware import GPUS


def register(subparsers) -> None:
    """Add ``profile`` and its ``show`` subcommand."""
    parser = subparsers.add_parser(
        "profile", help=HELP["profile"],
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_arguments(parser)
    parser.set_defaults(func=run_profile)
    actions = parser.add_subparsers(dest="profile_action", metavar="show|served")
    show = actions.add_parser("show", help="print a profile's environment, coverage and held-out error")
    show.add_argument("path", help="profile directory or bundled name")
    show.add_argument("--plot", help="write step time vs batch and context, with the roofline floor, to this PNG")
    show.add_argument("--gpu", default=None, help=f"GPU datasheet for the roofline floor ({', '.join(GPUS)})")
    show.set_defaults(func=run_show)
    served = actions.add_parser(
        "served", help="re-time a profile from the step logs of recorded runs of its engine configuration")
    served.add_argument("records", nargs="+", help="hf_cb record JSON files with step logs, or hf_static records with batch logs")
    served.add_argument("--base", required=True,
                        help="profile (directory or bundled name) whose model, memory and engine setup to keep")
    served.add_argument("--out", required=True, help="output directory (profile.yaml + steps.csv)")
    served.add_argument("--name", help="profile name (default: the output directory's name)")
    served.set_defaults(func=run_served)


def run_profile(args: argparse.Namespace) -> int:
    """Profile a model (needs torch; a CUDA GPU for meaningful numbers)."""
    if not args.out or not (args.model or args.config):
        raise ValueError("profile needs --out and one of --model or --config (or: batchsim profile show PATH)")
    refusal = device_refusal(args.device)
    if refusal:
        raise ValueError(refusal)
    from batchsim.profiler.run import profile  # torch is imported only when profiling
    profile(args, log=print)
    return 0


def device_refusal(device: str | None) -> str | None:
    """Why profiling cannot start on ``device`` (None: CUDA), or None if it can.

    A CPU profile says nothing about GPU serving and a GPU-sized model can exhaust the host's
    memory, so the CPU is used only when asked for by name.
    """
    if device == "cpu":
        return None
    try:
        import torch
    except ImportError:
        return "profiling needs torch (pip install 'batchsim[profile]')"
    if not torch.cuda.is_available():
        return (f"no CUDA GPU available for --device {device or 'cuda'}; profile on a GPU machine, "
                f"or pass --device cpu to time the CPU (its numbers do not describe a GPU)")
    return None


def run_show(args: argparse.Namespace) -> int:
    """Print the report of one profile and optionally plot it."""
    from batchsim.simulator import profile_report  # numpy and the fit: only when showing
    from batchsim.simulator.profile_cost import load_profile_cost_model

    model = load_profile_cost_model(args.path)
    print(profile_report.format_report(model, args.gpu))
    limits = ", ".join(f"{name} {value:,.0f}" for name, value in model.measured_range.limits.items())
    print(f"measured range: {limits}")
    if args.plot:
        profile_report.plot(model, args.plot, args.gpu)
        print(f"plot written to {args.plot}")
    return 0


def run_served(args: argparse.Namespace) -> int:
    """Write a served profile (``planning.served_profile``) and say what each run contributed."""
    from pathlib import Path

    from batchsim.atomic import output_directory
    from batchsim.planning.records import load_record
    from batchsim.planning.served_profile import build_served_profile
    from batchsim.simulator.profile_cost import resolve_profile_path
    from batchsim.simulator.profile_format import read_meta

    records = [(path, load_record(path).data) for path in args.records]
    name = args.name or Path(args.out).name
    with output_directory(args.out, f"served profile {name}") as staging:
        _, lines = build_served_profile(resolve_profile_path(args.base), records, staging, name)
    for line in lines:
        print(line)
    fit = read_meta(args.out)["fit"]  # the build chose the form by held-out error: no refit
    held_out = fit["held_out"][fit["form"]]
    print(f"wrote {args.out}: form {fit['form']}, held-out error mean "
          f"{held_out['mean_ape_pct']:.1f}% over {held_out['held_out_points']} steps (served steps scatter: one step a row)")
    return 0
