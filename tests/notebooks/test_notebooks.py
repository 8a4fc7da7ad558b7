"""The walkthrough notebooks run top to bottom and show sane key numbers."""
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def execute(name: str):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS.parent)}}).execute()
    return notebook


def text_of(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def test_static_vs_continuous_tells_the_story():
    notebook = execute("static_vs_continuous.ipynb")
    texts = [text_of(c) for c in notebook.cells if c.cell_type == "code"]
    table = texts[1]
    assert "Static batching, batch=8" in table and "Continuous batching plus PagedAttention" in table
    ratios = next(t for t in texts if "continuous+paged / static B=32" in t)
    for line in ratios.strip().splitlines():
        # continuous batching beats static B=32 and paging beats contiguous reservation
        continuous_over_static = float(line.split("continuous+paged / static B=32 = ")[1].split("x")[0])
        paged_over_contiguous = float(line.split("paged / contiguous = ")[1].split("x")[0])
        assert continuous_over_static > 2.0 and paged_over_contiguous >= 1.0
    assert any("image/png" in o.get("data", {}) for c in notebook.cells for o in c.get("outputs", []))
    itl = texts[-1]
    assert "chunked" in itl and "p99_itl_ms" in itl


def test_capacity_plan_answers_with_gpu_counts():
    notebook = execute("capacity_plan.ipynb")
    texts = [text_of(c) for c in notebook.cells if c.cell_type == "code"]
    assert any("azure" in t for t in texts)
    summary = next(t for t in texts if "fewer GPUs than static" in t)
    counts = summary.split(": ")[-1].split(" -> ")
    assert int(counts[0]) > int(counts[1]) >= 1
    assert any("autoscaled" in t for t in texts)
