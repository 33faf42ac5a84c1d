"""The root ``Mutation`` type of the full schema: one mixin per workflow.

Each workflow keeps its mutations in its own module as a plain strawberry type and
is listed here once (the public schema has no ``Mutation``)."""

from __future__ import annotations

import strawberry

from schema.credit_repair import CreditRepairMutation
from schema.inspections import InspectionMutation
from schema.objections import ObjectionMutation
from schema.policy_admin import PolicyMutation
from schema.pushes import PushMutation

__all__ = ["Mutation"]


@strawberry.type(name="Mutation", description="Changes: policy (admins), workflows.")
class Mutation(PolicyMutation, InspectionMutation, ObjectionMutation, CreditRepairMutation,
               PushMutation):
    """``setFieldClass`` and the workflows' mutations (inspections: ``schema.inspections``;
    objections and credit repairs: ``schema.objections``, ``schema.credit_repair``;
    pushed registrations: ``schema.pushes``)."""
