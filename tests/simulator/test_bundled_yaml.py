"""The committed JSON copy of the bundled YAML files holds what the YAML parser gives for each file
as it is now; a file changed since the copy was written is read from its YAML."""
import json

import pytest

from batchsim.inputs import parse_yaml
from batchsim.simulator import bundled_yaml
from batchsim.simulator.hardware import load_gpu_file
from batchsim.simulator.profile_format import read_meta


REWRITE = "after changing a bundled YAML file, run: python -m batchsim.simulator.bundled_yaml"


def test_the_copy_is_fresh_and_equal_to_every_bundled_file():
    held = json.loads(bundled_yaml.COPY_FILE.read_text())
    files = bundled_yaml.bundled_yaml_files()
    assert {p.parent.name for p in files} >= {"gpus", "h200-llama-3-8b-cuda-graph"}
    assert sorted(held["files"]) == sorted(
        p.relative_to(bundled_yaml.DATA_ROOT).as_posix() for p in files), REWRITE
    for path in files:
        parsed, _ = parse_yaml(path.read_text(), str(path))
        from_copy = bundled_yaml.lookup(path)
        assert from_copy is not bundled_yaml.MISSING, f"{path}: the parsed copy is stale; {REWRITE}"
        assert bundled_yaml.same_value(from_copy, parsed), path


def test_same_value_tells_types_and_key_order_apart():
    assert bundled_yaml.same_value({"a": [1, 2.5, None, "x"]}, {"a": [1, 2.5, None, "x"]})
    assert not bundled_yaml.same_value(1, 1.0) and not bundled_yaml.same_value(1, True)
    assert not bundled_yaml.same_value({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not bundled_yaml.same_value([1], [1, 1])


def test_lookup_hands_out_copies():
    path = bundled_yaml.DATA_ROOT / "profiles" / "h200-llama-3-8b-cuda-graph" / "profile.yaml"
    first = bundled_yaml.lookup(path)
    first["model"]["hidden_size"] = 1
    assert bundled_yaml.lookup(path)["model"]["hidden_size"] == 4096


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    root = tmp_path / "data"
    (root / "gpus").mkdir(parents=True)
    (root / "profiles" / "p").mkdir(parents=True)
    monkeypatch.setattr(bundled_yaml, "DATA_ROOT", root.resolve())
    monkeypatch.setattr(bundled_yaml, "COPY_FILE", root / "bundled_yaml.json")
    bundled_yaml._entries.cache_clear()
    yield root
    bundled_yaml._entries.cache_clear()


GPU = ("name: g\nbf16_flops: 1.0e+14\nhbm_bytes_per_s: 1.0e+12\nmemory_bytes: 1000\n"
       "host_link_bytes_per_s: 1.0e+10\nnvlink_bytes_per_s: 1.0e+10\n")


def test_a_changed_file_is_read_from_its_yaml(data_root):
    gpu = data_root / "gpus" / "g.yaml"
    gpu.write_text(GPU)
    bundled_yaml.main()
    bundled_yaml._entries.cache_clear()
    assert bundled_yaml.lookup(gpu)["memory_bytes"] == 1000
    gpu.write_text(GPU.replace("memory_bytes: 1000", "memory_bytes: 2000"))
    assert bundled_yaml.lookup(gpu) is bundled_yaml.MISSING
    assert load_gpu_file(gpu).memory_bytes == 2000  # from the YAML, not the stale copy


def test_a_file_outside_the_data_folder_is_never_looked_up(data_root, tmp_path):
    other = tmp_path / "g.yaml"
    other.write_text(GPU)
    bundled_yaml.main()
    assert bundled_yaml.lookup(other) is bundled_yaml.MISSING


def test_values_json_cannot_hold_exactly_stay_with_the_yaml(data_root):
    profile = data_root / "profiles" / "p" / "profile.yaml"
    profile.write_text("format: batchsim-profile/1\nrecorded: 2026-11-24\n")  # a date
    (data_root / "gpus" / "g.yaml").write_text(GPU)
    content, left = bundled_yaml.build_copy()
    assert left == ["profiles/p/profile.yaml"] and list(content["files"]) == ["gpus/g.yaml"]


def test_a_bundled_profile_reads_the_same_meta_either_way(monkeypatch):
    path = bundled_yaml.DATA_ROOT / "profiles" / "h200-llama-3-8b-engine"
    from_copy = read_meta(path)
    monkeypatch.setattr(bundled_yaml, "lookup", lambda p: bundled_yaml.MISSING)
    assert bundled_yaml.same_value(from_copy, read_meta(path))
