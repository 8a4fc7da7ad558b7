"""Profile files: round trip, and one-line errors naming the file, line and field."""
import pytest

from batchsim.simulator.profile_format import StepRecord, format_chunks, parse_chunks, read_meta, read_steps, write_profile

META = {"name": "t", "mode": "eager", "model": {"name": "m"}, "memory": {}, "environment": {}}


def _step(**changes):
    base = dict(kind="decode", prefill_chunks=(), decode_count=4, decode_context_sum=400, decode_context_max=100,
                wall_s=0.01, wall_p10_s=0.009, wall_p90_s=0.011, gpu_s=0.008, gpu_p10_s=0.007, gpu_p90_s=0.009,
                repeats=5)
    return StepRecord(**{**base, **changes})


def test_chunks_round_trip():
    assert parse_chunks(format_chunks(((512, 0), (64, 1024)))) == ((512, 0), (64, 1024))
    assert parse_chunks("") == ()


def test_profile_round_trip(tmp_path):
    steps = [_step(), _step(kind="mixed", prefill_chunks=((128, 0),)), _step(status="oom", wall_s=0.0, note="x")]
    write_profile(tmp_path, META, steps)
    assert read_steps(tmp_path) == steps
    assert read_meta(tmp_path)["format"] == "batchsim-profile/1"


def test_bad_row_names_file_and_line(tmp_path):
    write_profile(tmp_path, META, [_step(), _step()])
    lines = (tmp_path / "steps.csv").read_text().splitlines()
    lines[2] = lines[2].replace("decode", "sideways", 1)
    (tmp_path / "steps.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"steps.csv, line 3: step kind 'sideways'"):
        read_steps(tmp_path)


def test_missing_meta_field_is_named(tmp_path):
    write_profile(tmp_path, {k: v for k, v in META.items() if k != "memory"}, [_step()])
    with pytest.raises(ValueError, match="missing field 'memory'"):
        read_meta(tmp_path)


def test_yaml_tags_are_refused(tmp_path):
    (tmp_path / "profile.yaml").write_text("format: !!python/object:os.system {}\n")
    with pytest.raises(ValueError, match=r"profile.yaml line 1: not valid YAML"):
        read_meta(tmp_path)


def test_ok_step_needs_a_time():
    with pytest.raises(ValueError, match="wall_s > 0"):
        _step(wall_s=0.0)
