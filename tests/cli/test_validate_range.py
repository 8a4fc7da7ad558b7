"""``batchsim validate`` says how far each replay went beyond the profile's measured range."""
import json

from batchsim.cli.main import main
from tests.planning.test_validate import lone_request_record


def test_validate_reports_the_range_and_strict_range_fails(capsys, tmp_path):
    # an 8,100-token prompt decodes with contexts past the served engine profile's longest decode
    # context (7,941); block size 256 is the engine's own, which its profile ran
    record = lone_request_record([300, 8100], [20, 20])
    record["engine_config"]["block_size"] = 256
    path = tmp_path / "long.json"
    path.write_text(json.dumps(record))
    assert main(["validate", str(path), "--out", str(tmp_path / "fid")]) == 0
    out = capsys.readouterr().out
    assert "measured range: extrapolated" in out and "context per decode" in out
    rows = json.loads((tmp_path / "fid" / "fidelity.json").read_text())
    assert {row["range_status"] for row in rows} == {"extrapolated"}
    assert all(row["extrapolation_worst_ratio"] > 1.0 for row in rows)
    assert main(["validate", str(path), "--strict-range"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("batchsim: error: --strict-range: the replay of") and "\n" not in err
    assert main(["validate", str(path), "--profile", "roofline", "--strict-range"]) == 0
    assert "measured range: unprofiled: roofline estimate" in capsys.readouterr().out
