"""The rules as data, shipped inside the package so an installed gateway finds them.

The files in this folder (``model.conf``, ``policy.csv``, ``*.yaml``) are package data;
``policy_dir()`` is the one place the gateway finds them when no other folder is
given (``gateway serve --policies DIR`` or ``$GATEWAY_POLICIES``)::

    from policies import policy_dir
    load_rules(policy_dir())
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["policy_dir"]


def policy_dir() -> Path:
    """The folder of the bundled rules, wherever the package is installed.

    Casbin and the reload watcher read files by path, so the package must be
    installed as a folder (what ``pip install`` does), not imported from a zip.
    """
    folder = resources.files(__name__)
    if not isinstance(folder, Path):
        raise RuntimeError(f"the bundled policies are not a folder on disk ({folder}); "
                           "install the package with pip, or pass --policies DIR")
    return folder
