"""Create the peers' virtual environments, apart from tokbt's own.

``python bench/peers/setup.py`` creates (or updates) two environments next to
this file, with the Python that runs it (3.11):

* ``.venv`` — bt, backtrader, backtesting.py and vectorbt, from ``requirements.txt``;
* ``.venv-nautilus`` — NautilusTrader, from ``requirements-nautilus.txt`` (it needs
  pandas < 3, which vectorbt 1.2 refuses, so it cannot share ``.venv``).

The peers pin their own numpy, pandas and numba: never install them into
tokbt's environment. ``--only NAME`` sets up one environment. A failing
install stops with the installer's exit status (pip's error is on stderr).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENVIRONMENTS = {
    "main": (HERE / ".venv", HERE / "requirements.txt"),
    "nautilus": (HERE / ".venv-nautilus", HERE / "requirements-nautilus.txt"),
}
"""Each environment's folder and requirements file."""


def env_python(env: Path) -> Path:
    """The Python interpreter of virtual environment ``env``."""
    return env / "bin" / "python"


def create(env: Path, requirements: Path) -> None:
    """Create ``env`` if missing and install ``requirements`` into it (pip, quietly)."""
    if not env_python(env).exists():
        print(f"creating {env}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    pip = [str(env_python(env)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    print(f"installing {requirements.name} into {env.name}", file=sys.stderr)
    subprocess.run([*pip, "-r", str(requirements)], check=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: set up every environment (or ``--only`` one)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=sorted(ENVIRONMENTS), help="set up only this environment")
    args = p.parse_args(argv)
    if sys.version_info[:2] != (3, 11):
        print(f"warning: the pins are for Python 3.11, this is {sys.version}", file=sys.stderr)
    names = [args.only] if args.only else list(ENVIRONMENTS)
    for name in names:
        env, requirements = ENVIRONMENTS[name]
        try:
            create(env, requirements)
        except subprocess.CalledProcessError as exc:
            print(f"setting up {env} failed (exit {exc.returncode})", file=sys.stderr)
            return exc.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
