"""Changing the access policy through the graph: ``setFieldClass`` (admins only).

The mutation is in the full schema only (the public schema has no ``Mutation``). It
changes the policy through ``PolicyAdminPort`` (``RequestContext.policy_admin``),
which the gateway implements over the platform database when ``policies.store`` is
``database``; with the policy kept in files there is no port and the mutation
answers ``POLICY_STORE_READ_ONLY``. This module knows no database.

    mutation { setFieldClass(type: "Penalty", field: "amount", openness: CONDITIONAL,
                             reason: "amounts under review") { type field openness } }
"""

from __future__ import annotations

from typing import Annotated, Protocol

import strawberry

from schema.context import RequestContext
from schema.enums import Openness
from schema.errors import Forbidden, GraphError

__all__ = ["ChangeRefused", "FieldClass", "PolicyAdminPort", "PolicyChangeRefused",
           "PolicyMutation", "PolicyStoreReadOnly", "PolicyStoreUnavailable",
           "StoreUnavailable"]

Info = strawberry.Info[RequestContext, None]


class ChangeRefused(Exception):
    """Raised by a ``PolicyAdminPort``: the change fails the policy's checks (the
    message says why); nothing changed."""


class StoreUnavailable(Exception):
    """Raised by a ``PolicyAdminPort``: the policy's store cannot be reached."""


class PolicyAdminPort(Protocol):
    """The access policy as an admin changes it (one caller: the principal acting)."""

    async def set_field_class(self, graph_type: str, field: str, openness: Openness,
                              reason: str) -> Openness:
        """Class ``graph_type.field`` (GraphQL names) as ``openness`` and put the new
        policy in force in this process before returning; ``ChangeRefused`` when the
        checks refuse it, ``StoreUnavailable`` when the store cannot be reached."""
        ...


class PolicyChangeRefused(GraphError):
    code = "POLICY_CHANGE_REFUSED"


class PolicyStoreReadOnly(GraphError):
    code = "POLICY_STORE_READ_ONLY"


class PolicyStoreUnavailable(GraphError):
    code = "POLICY_STORE_UNAVAILABLE"


@strawberry.type(description="A field's class (字段开放等级): the openness a caller needs "
                             "to read it.")
class FieldClass:
    type: str = strawberry.field(description="The record type (GraphQL type), e.g. Penalty.")
    field: str = strawberry.field(description="The field (GraphQL name), e.g. amount.")
    openness: Openness = strawberry.field(description="Its class: OPEN, CONDITIONAL or "
                                                      "NOT_OPEN.")


@strawberry.type(name="Mutation", description="Changes (admins only).")
class PolicyMutation:
    @strawberry.mutation(description=(
        "Class a record type's field (admins only; policies.store: database): callers not "
        "cleared for the class see it as null, and the public schema gains or loses it. "
        "Checked as at start (unknown type or field, a field that is never null): "
        "POLICY_CHANGE_REFUSED and nothing changes. Every replica follows within a second; "
        "the change and its reason are kept in the policy history."))
    async def set_field_class(
        self, info: Info,
        graph_type: Annotated[str, strawberry.argument(name="type",
                                                       description="The record type.")],
        field: Annotated[str, strawberry.argument(description="The field (GraphQL name).")],
        openness: Annotated[Openness, strawberry.argument(description="The new class.")],
        reason: Annotated[str | None, strawberry.argument(
            description="Why (kept in the policy history).")] = None,
    ) -> FieldClass:
        context = info.context
        context.reusable = False  # a change is never answered from the answer cache
        if context.view.clearance.role != "admin":
            raise Forbidden("Only admins may change the access policy.")
        port = context.policy_admin
        if port is None:
            raise PolicyStoreReadOnly(
                "The access policy is kept in files here (policies.store: files): edit the "
                "policies folder, or set policies.store: database in the configuration to "
                "change it with setFieldClass.")
        try:
            applied = await port.set_field_class(graph_type, field, openness, reason or "")
        except ChangeRefused as error:
            raise PolicyChangeRefused(f"The change was refused, nothing changed: {error}",
                                      argument="type") from None
        except StoreUnavailable as error:
            raise PolicyStoreUnavailable(
                f"The platform database cannot be reached ({error}); retry later (gateway "
                "policy history says whether the change was made).") from None
        return FieldClass(type=graph_type, field=field, openness=applied)
