"""``make dist``'s wheel, installed as on a phone: a fresh venv, no server extra.

The build runs as ``make dist`` runs it (``python -m build --no-isolation``: the venv's own
setuptools, nothing downloaded) on a copy of the checkout, so the checkout gets no build
folders. Installing the wheel asks the package index for the light dependencies (httpx,
websockets, typer, rich, phonenumbers), as ``pip install`` on a phone does; pip's cache
usually answers.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from simgate import __version__

ROOT = Path(__file__).resolve().parents[2]
#: What a wheel must carry beyond Python modules: the offline API docs, the migrations.
CARRIED = [
    "simgate/web/static/vendor/swagger-ui/swagger-ui-bundle.js",
    "simgate/web/static/vendor/swagger-ui/swagger-ui.css",
    "simgate/web/static/vendor/redoc/redoc.standalone.js",
    "simgate/store/migrations/versions/0007_account_region.py",
    "simgate/py.typed",
]


def run(*args: str | Path, cwd: Path | None = None, timeout: float = 90) -> str:
    done = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / CARRIED[0]).exists():
        pytest.fail("the docs assets are missing: run `make assets` (make install does)")
    source = tmp_path_factory.mktemp("checkout")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "simgate",
        source / "simgate",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, source)
    [built] = out.glob("simgate-*.whl")
    assert list(out.glob("simgate-*.tar.gz")), "make dist builds the sdist too"
    return built


def test_the_wheel_carries_the_offline_docs_and_migrations(wheel: Path) -> None:
    assert wheel.name == f"simgate-{__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [name for name in CARRIED if name not in names] == []


@pytest.mark.timeout(300)  # a venv, and pip resolving the light dependencies
def test_the_light_install_runs_the_agent(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "phone"
    run(sys.executable, "-m", "venv", venv)
    bin_dir = venv / "bin"
    run(
        bin_dir / "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        wheel,
        timeout=120,
    )
    assert run(bin_dir / "simgate", "--version").strip() == f"simgate {__version__}"
    agent_help = run(bin_dir / "simgate", "agent", "--help")
    assert "--driver" in agent_help
    assert "--pair" in agent_help
    # Light indeed: none of the server's stack came along.
    missing = subprocess.run(
        [bin_dir / "python", "-c", "import fastapi"], capture_output=True, check=False
    )
    assert missing.returncode != 0
    # A server command says what to install instead of a traceback.
    serve = subprocess.run(
        [bin_dir / "simgate", "serve"], capture_output=True, text=True, timeout=60, check=False
    )
    assert serve.returncode == 2
    assert "Traceback" not in serve.stderr, serve.stderr
    assert "pip install 'simgate[server]'" in serve.stderr
