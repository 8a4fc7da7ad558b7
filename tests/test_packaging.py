"""Packaging: every folder installs under the one ``batchsim`` import namespace."""
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_installed_package_is_under_batchsim():
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = settings["packages"]
    assert packages and all(name == "batchsim" or name.startswith("batchsim.") for name in packages)
    # each mapped folder exists and is a package, so nothing is silently left out of a wheel
    for name, folder in settings["package-dir"].items():
        assert name in packages
        assert (ROOT / folder / "__init__.py").is_file(), folder


def test_every_source_package_is_mapped():
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = {Path(folder) for folder in settings["package-dir"].values()}
    for init in ROOT.glob("*/__init__.py"):
        folder = init.parent.relative_to(ROOT)
        if folder.name in ("tests", "batchsim", "benchmarks", "notebooks"):
            continue
        assert folder in mapped, f"{folder} is a package but pyproject does not install it"


def test_imports_use_the_namespace():
    import batchsim.simulator.request as request

    assert request.__name__ == "batchsim.simulator.request"
