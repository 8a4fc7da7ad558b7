"""Each command imports only what it needs: help and a replay of the bundled trace start without
pandas (the readers, exports and planners that use it load it themselves); a replay of the bundled
trace on the bundled profile also without PyYAML (bundled files come from their parsed copy),
pydantic (nothing to validate) and tqdm (no bar drawn)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import contextlib, io, sys
from batchsim.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
print(",".join(m for m in NAMES if m in sys.modules))
"""
HEAVY = ("pandas", "matplotlib", "pyarrow", "torch", "yaml", "pydantic", "tqdm", "numpy",
         "batchsim.cli.plan_cmd")
COST_MODELS = ("batchsim.simulator.roofline", "batchsim.simulator.calibrated_cost",
               "batchsim.simulator.tensor_parallel")


def heavy_modules(*args: str, names=HEAVY) -> str:
    probe = f"NAMES = {names!r}\n" + PROBE
    out = subprocess.run([sys.executable, "-c", probe, *args], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


@pytest.mark.parametrize("args", [("--help",), ("replay", "--help"), ("trace", "--help"),
                                  ("replay", "--limit", "50")])
def test_command_starts_without_pandas(args):
    assert set(heavy_modules(*args).split(",")) <= {"numpy", ""}


def test_help_lists_every_command_without_importing_one():
    # the command table (cli.commands) lists them; each command's module loads when it runs
    assert heavy_modules("--help") == ""
    assert heavy_modules("plan", "--help") == "numpy,batchsim.cli.plan_cmd"


def test_a_scenario_file_still_loads_its_parsers(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("policy: {name: chunked}\n")
    assert set(heavy_modules("replay", "--limit", "20", "--config", str(path)).split(",")) >= {
        "yaml", "pydantic"}


def test_writing_tables_loads_pandas(tmp_path):
    assert "pandas" in heavy_modules("replay", "--limit", "20", "--out", str(tmp_path)).split(",")


def test_cost_models_load_when_a_scenario_asks_for_them():
    # the bundled profile prices a default replay: no roofline, calibration or sharding code
    assert heavy_modules("replay", "--limit", "20", names=COST_MODELS) == ""
    # a profile path is checked for a calibration first
    assert heavy_modules("replay", "--limit", "20", "--profile", "roofline",
                         names=COST_MODELS) == ("batchsim.simulator.roofline,"
                                                "batchsim.simulator.calibrated_cost")
    assert heavy_modules("replay", "--limit", "20", "--model", "llama-3-70b", "--tp", "2",
                         names=COST_MODELS) == ("batchsim.simulator.roofline,"
                                                "batchsim.simulator.tensor_parallel")


def test_a_plan_of_the_bundled_trace_starts_without_pandas():
    assert "pandas" not in heavy_modules("plan", "--slo", "ttft_p99=2s", "--policy", "continuous",
                                         "--limit", "200", "--window-s", "0", "--workers", "1",
                                         "--quiet").split(",")
