"""Engine-mode profiles against the hf_cb records' own step logs (decode-only steps): each record
against the bundled profile ``batchsim validate`` picks for its engine configuration, then the
graphs-off records against the engine diagnostics of 2026-11-24 (advancing vs fixed KV, default vs
the records' engine config).

Run: PYTHONPATH=. python benchmarks/profile_vs_step_logs.py   (output committed as profile_vs_step_logs.txt)
"""
import math
from pathlib import Path

from batchsim.planning.records import load_record, observed_run
from batchsim.planning.validate import scenario_for
from batchsim.planning.step_logs import compare_decode_steps
from batchsim.simulator.profile_cost import load_profile_cost_model
from batchsim.simulator.profile_format import read_steps

DIAG = Path("records/diagnostics/h200-2026-11-24")
WIDE_BINS = ((1, 16), (16, 64), (64, 128), (128, 256), (256, 513))
PROFILES = (str(DIAG / "engine-dense-decodes"), str(DIAG / "engine-record-config"),
            str(DIAG / "engine-fixed-kv"))


def matched_points() -> None:
    """The same decode compositions measured three ways in one device call."""
    # a grid context plus the few tokens decoded before the middle timed step: key by the power of two
    runs = {name: {(s.decode_count, 2 ** round(math.log2(s.decode_context_max))): s.wall_s
                   for s in read_steps(DIAG / name) if s.kind == "decode"}
            for name in ("engine-dense-decodes", "engine-fixed-kv", "engine-record-config")}
    print("decodes x context | advancing KV, default config | fixed KV, default config | advancing KV, records' config (ms)")
    for key in sorted(runs["engine-fixed-kv"]):
        cells = [f"{1e3 * runs[name][key]:7.1f}" if key in runs[name] else "      -" for name in runs]
        print(f"{key[0]:3d} x ~{key[1]:<6d} | " + " | ".join(cells))


def _print_rows(rows) -> None:
    for row in rows:
        print(f"{row['case']:22s}{row['decodes']:>8s}{row['steps']:7d}{row['real_median_ms']:11.1f}ms"
              f"{row['real_mean_ms']:9.1f}ms{row['median_ratio']:21.3f}{row['sum_ratio']:7.3f}")


def matched_profiles(records) -> None:
    """Each record against the profile measured under its engine configuration."""
    print("\neach record against its matching bundled profile")
    print("case                   decodes  steps  real median  real mean  predicted/real: median  sum")
    for path in records:
        record = load_record(str(path))
        name = scenario_for(observed_run(record)).profile
        print(f"-- {name}")
        _print_rows(compare_decode_steps(record, load_profile_cost_model(name), WIDE_BINS))


def main() -> None:
    matched_points()
    records = sorted(Path("records").glob("cb_*.json"))
    matched_profiles(records)
    graphs_off = [p for p in records if not load_record(str(p)).engine_config.get("use_cuda_graph")]
    records = graphs_off
    for name in PROFILES:
        model = load_profile_cost_model(name)
        print(f"\nprofile {Path(name).name} (held-out mean {model.held_out_error()['mean_ape_pct']:.2f}%)")
        print("case                decodes  steps  real median  real mean  predicted/real: median  sum")
        for path in records:
            for row in compare_decode_steps(load_record(str(path)), model):
                print(f"{row['case']:20s}{row['decodes']:>7s}{row['steps']:7d}{row['real_median_ms']:11.1f}ms"
                      f"{row['real_mean_ms']:9.1f}ms{row['median_ratio']:21.3f}{row['sum_ratio']:7.3f}")


if __name__ == "__main__":
    main()
