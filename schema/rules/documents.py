"""Reading a rule file's YAML text into a mapping, the file's problem named once."""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["yaml_mapping"]


def yaml_mapping(text: str | None, where: str) -> dict[Any, Any] | str:
    """The mapping in ``text`` (a rule file's content; None: the file is missing), or
    the problem, named by ``where`` (the file): the caller raises its own error."""
    if text is None:
        return f"{where}: missing or unreadable"
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return f"{where}: is not valid YAML"
    if not isinstance(document, dict):
        return f"{where}: must be a mapping"
    return document
