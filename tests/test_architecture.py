"""The library's import contracts (pyproject.toml ``[tool.importlinter]``), run by the suite as by ``make lint``.

The packages form layers (``tables`` at the bottom, then ``reports``, ``graph`` / ``lake``, ``sinks``, ``quality``,
``gold``, the plain orchestration modules, and the Airflow adapters on top): a new import of a higher layer, a
type-only one or one hidden inside a function included, makes this test fail, and so does Airflow imported below
the adapters.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT


def test_the_import_contracts_are_kept():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(ROOT / part) for part in ("plugins", "include", "dags")))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in done.stdout
