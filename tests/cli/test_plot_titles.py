"""Figure titles name the trace, the offered rate, the policy and the cost model."""
from batchsim.cli.plot_cmd import run_title


def summary(policy, **extra):
    return {"model": "llama-3-8b", "gpu": "h200", "trace": "conv.csv", "request_rate": 5.5,
            "policy": policy, "cost_model": "profile h200-llama-3-8b-engine", **extra}


def test_one_run_names_everything_once():
    title = run_title([summary("chunked")], ["chunked"])
    assert title == ("llama-3-8b on h200, conv.csv, 5.50 req/s offered, chunked, "
                     "profile h200-llama-3-8b-engine")


def test_runs_that_differ_say_how_each_differs():
    title = run_title([summary("static"), summary("static", request_rate=11.0)], ["a", "b"])
    assert "conv.csv" in title and "static" in title
    assert "a: 5.50 req/s offered; b: 11.00 req/s offered" in title.replace("\n", " ")
    # policies named by the legend labels are not repeated
    assert "static:" not in run_title([summary("static"), summary("continuous")],
                                      ["static", "continuous"])
