"""The package installs from a wheel: packs, sprites, agents and `py.typed` ship inside it.

Builds a wheel from the checkout (copied to tmp, so no `build/` is left behind), installs it
with `--no-deps` into a fresh virtual environment and runs the CLI from outside the checkout.
The new environment sees this interpreter's site-packages (torch & co.) through a `.pth` line,
which adds the directory to `sys.path` without running the `.pth` files inside it, so the
editable install of the checkout stays invisible: `mamlgame` must import from the new venv.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GAME_PACKS = ["arena", "chasers", "speedway", "platformer", "mixed"]


def _sh(args, cwd, env, timeout=180):
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    shutil.copy2(ROOT / "pyproject.toml", src)
    shutil.copy2(ROOT / "README.md", src)
    shutil.copytree(ROOT / "mamlgame", src / "mamlgame",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    _sh([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "-w", out, src], cwd=src, env=os.environ.copy())
    (whl,) = out.glob("mamlgame-*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory):
    """(python, bin dir, env) of a fresh venv with only the wheel installed."""
    home = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", home / "v"], check=True)
    bindir = home / "v" / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    site = Path(_sh([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=home, env=os.environ.copy()).strip())
    parent = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_parent_site.pth").write_text("".join(f"{p}\n" for p in sorted(parent)))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", OMP_NUM_THREADS="1",
               PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}")
    _sh([python, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", wheel],
        cwd=home, env=env)
    return python, bindir, env, home


def test_wheel_holds_packs_sprites_and_py_typed(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "mamlgame/py.typed" in names
    shipped = sorted(p.name for p in (ROOT / "mamlgame" / "levels").glob("*.toml"))
    assert shipped and all(f"mamlgame/levels/{n}" in names for n in shipped)
    sprites = sorted(p.name for p in (ROOT / "mamlgame" / "assets" / "sprites").glob("*.png"))
    assert sprites and all(f"mamlgame/assets/sprites/{n}" in names for n in sprites)
    agents = sorted(p.name for p in (ROOT / "mamlgame" / "assets" / "agents").glob("*.pt"))
    assert agents and all(f"mamlgame/assets/agents/{n}" in names for n in agents)


def test_installed_cli_runs_outside_the_checkout(venv):
    python, bindir, env, home = venv
    work = home / "work"  # a cwd outside the checkout
    work.mkdir()
    exe = bindir / "mamlgame"
    where = _sh([python, "-c", "import mamlgame, mamlgame.render.raster as r; "
                 "print(mamlgame.__file__); print(len(list(r.SPRITES_DIR.glob('*.png'))))"],
                cwd=work, env=env).split()
    package = Path(where[0]).resolve().parent
    assert package.is_relative_to((home / "v").resolve()), f"imported {where[0]}, not the wheel"
    assert int(where[1]) > 0, "the installed package finds no sprite"

    listing = _sh([exe, "levels", "list"], cwd=work, env=env)
    for name in GAME_PACKS:
        assert name in listing
    assert f"shipped packs in {package / 'levels'}" in listing

    run = work / "run"
    trained = _sh([exe, "train", "arena", "--iterations", "2", "--meta-batch", "2",
                   "--episodes", "2", "--threads", "1", "--quiet", "--out", run],
                  cwd=work, env=env)
    assert (run / "checkpoint.pt").is_file(), trained
    assert (run / "metrics.jsonl").read_text().count("\n") >= 2

    frame = work / "frame.png"
    played = _sh([exe, "play", "arena", "--agent", run / "checkpoint.pt", "--headless",
                  "--frames", "3", "--record", frame], cwd=work, env=env)
    assert frame.is_file(), played
    assert "ran 3 frames" in _sh([exe, "play", "--headless", "--frames", "3"], cwd=work, env=env)
