"""The ``RestrictionAction`` enum: the restriction catalogue's actions as GraphQL values.

Built when the schema is built, from the catalogue the gateway loaded
(``policies/restrictions.yaml``), so an action added to the file is a value of the
enum after a restart, and an action the catalogue does not have is refused by
validation (``GRAPHQL_VALIDATION_FAILED``) before anything is computed.

A catalogue code becomes an enum value by ``enum_name``::

    LICENCE_APPLICATION  -> LICENCE_APPLICATION   (already a GraphQL name: unchanged)
    land-transaction     -> LAND_TRANSACTION      (upper case; other characters -> _)
    2026 pilot           -> ACTION_2026_PILOT     (a name may not start with a digit)

Two codes that give the same name are a catalogue error (``RulesError`` at load).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping

import strawberry

from schema.rules.model import ActionRules

__all__ = ["ACTION_ENUM_NAME", "action_enum", "enum_name"]

ACTION_ENUM_NAME = "RestrictionAction"

_NOT_NAME = re.compile(r"[^A-Z0-9]+")


def enum_name(code: str) -> str:
    """The GraphQL enum value for the catalogue code ``code`` (see the module's table)."""
    name = _NOT_NAME.sub("_", code.upper()).strip("_")
    if not name or name[0].isdigit():
        name = f"ACTION_{name}".rstrip("_")
    return name


def _description(action: ActionRules) -> str:
    mapped = "" if enum_name(action.code) == action.code else f" (catalogue code {action.code})"
    return f"{action.name}{mapped}"


def action_enum(actions: Mapping[str, ActionRules]) -> type[enum.Enum]:
    """The strawberry enum of ``actions`` (the loaded catalogue, ``RuleSet.actions``):
    one value per action, in the catalogue's order, named by ``enum_name``, whose
    Python value is the catalogue code and whose description is the action's name
    (Chinese, English)."""
    if not actions:
        raise ValueError("the restriction catalogue has no actions")
    members: dict[str, object] = {}
    for code, action in actions.items():
        name = enum_name(code)
        if name in members:
            raise ValueError(f"restriction actions {code!r} and another both map to {name}")
        members[name] = strawberry.enum_value(code, description=_description(action))
    python_enum = enum.Enum(ACTION_ENUM_NAME, members)  # type: ignore[misc]
    return strawberry.enum(
        python_enum,
        name=ACTION_ENUM_NAME,
        description=(
            "An action of the restriction catalogue (信用奖惩措施目录, "
            "policies/restrictions.yaml) that an approval system asks about. The values "
            "are the catalogue's codes (upper case, other characters as _)."),
    )
