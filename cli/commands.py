"""The subcommands: name, module (under batchsim.cli) and one-line help, in --help's order.

``batchsim COMMAND`` imports only that command's module (cli.main); ``batchsim --help`` lists
every command from this table without importing any of them.
"""
COMMANDS = (
    ("replay", "replay", "replay a trace through simulated replicas"),
    ("trace", "trace_cmd", "describe, convert or synthesize traces"),
    ("sweep", "sweep_cmd", "replay a grid of settings in parallel into one results table"),
    ("plot", "plot_cmd", "figures (PNG and SVG) from sweep results or replay outputs"),
    ("plan", "plan_cmd", "fewest replicas (GPUs) that meet an SLO over a trace"),
    ("profile", "profile_cmd", "profile a model on this GPU, or show a profile"),
    ("validate", "validate_cmd", "compare the simulator with recorded real-engine runs"),
    ("calibrate", "calibrate_cmd", "fit a calibrated profile to real runs (GPUs never profiled)"),
    ("record", "record_cmd", "replay a trace on a real engine (GPU) and write a run record"),
)
HELP = {name: text for name, _, text in COMMANDS}
