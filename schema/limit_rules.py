"""The depth and alias limits as graphql-core validation rules (QUERY_TOO_DEEP,
TOO_MANY_ALIASES), and the measures they apply.

The rule classes are built once per ``QueryLimits`` (``limit_rules`` is memoised), so
the validation cache, whose key holds the rule classes, answers repeated queries
without validating them again, rejections included (strawberry's own
``QueryDepthLimiter`` / ``MaxAliasesLimiter`` make a new class per request, strawberry
issue #4635)."""

from __future__ import annotations

import functools
from typing import ClassVar

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)
from graphql.language.visitor import SKIP, VisitorAction
from graphql.validation import ASTValidationRule

from schema.limit_settings import (
    QUERY_TOO_DEEP,
    TOO_MANY_ALIASES,
    QueryLimitError,
    QueryLimits,
    operation_label,
)
from schema.selection_walk import FragmentLookup, RootSplit

__all__ = [
    "AliasLimitRule",
    "DepthLimitRule",
    "alias_count",
    "limit_rules",
    "query_depths",
    "rule_classes",
]


class _Depth:
    """Depth of selection sets in fields (a set of leaves is depth 1)."""

    def __init__(self, fragment: FragmentLookup) -> None:
        self.fragment = fragment
        self.memo: dict[str, int] = {}
        self.on_path: set[str] = set()

    def of(self, selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                depth = 1 + self.of(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                depth = self.of(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                depth = self._spread(selection.name.value)
            else:  # pragma: no cover - no other kind of selection
                continue
            deepest = max(deepest, depth)
        return deepest

    def _spread(self, name: str) -> int:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragment(name)
        if definition is None or name in self.on_path:
            return 0
        self.on_path.add(name)
        depth = self.memo[name] = self.of(definition.selection_set)
        self.on_path.discard(name)
        return depth


def query_depths(
    operation: OperationDefinitionNode, fragment: FragmentLookup
) -> tuple[int, int]:
    """(data depth, introspection depth) of an operation, fragments expanded."""
    depth = _Depth(fragment)
    split = RootSplit(fragment, lambda field: 1 + depth.of(field.selection_set), max)
    return split.of(operation.selection_set)


class _Aliases:
    def __init__(self, fragment: FragmentLookup) -> None:
        self.fragment = fragment
        self.memo: dict[str, int] = {}
        self.on_path: set[str] = set()

    def of(self, selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += (selection.alias is not None) + self.of(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                count += self.of(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                count += self._spread(selection.name.value)
        return count

    def _spread(self, name: str) -> int:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragment(name)
        if definition is None or name in self.on_path:
            return 0
        self.on_path.add(name)
        count = self.memo[name] = self.of(definition.selection_set)
        self.on_path.discard(name)
        return count


def alias_count(operation: OperationDefinitionNode, fragment: FragmentLookup) -> int:
    """Aliased fields of an operation, each fragment counted once per spread."""
    return _Aliases(fragment).of(operation.selection_set)


class DepthLimitRule(ValidationRule):
    """QUERY_TOO_DEEP when an operation nests fields deeper than ``limits.max_depth``
    (``limits.max_introspection_depth`` under ``__schema`` / ``__type``)."""

    limits: ClassVar[QueryLimits] = QueryLimits()

    def enter_operation_definition(
        self, node: OperationDefinitionNode, *_args: object
    ) -> VisitorAction:
        limits = self.limits
        data, introspection = query_depths(node, self.context.get_fragment)
        if data > limits.max_depth:
            self.report_error(QueryLimitError(
                QUERY_TOO_DEEP,
                f"{operation_label(node)} nests fields {data} deep; the limit is "
                f"{limits.max_depth}. Ask for less nested data: split the query into "
                "several shallower ones (e.g. fetch a related enterprise or person by "
                "its id in a second query).",
                [node],
            ))
        if introspection > limits.max_introspection_depth:
            self.report_error(QueryLimitError(
                QUERY_TOO_DEEP,
                f"{operation_label(node)} nests introspection fields {introspection} deep; "
                f"the limit is {limits.max_introspection_depth}. Use the standard "
                "introspection query (graphql get_introspection_query / GraphiQL).",
                [node],
            ))
        return SKIP


class AliasLimitRule(ValidationRule):
    """TOO_MANY_ALIASES when an operation has more than ``limits.max_aliases`` aliased
    fields, fragments expanded."""

    limits: ClassVar[QueryLimits] = QueryLimits()

    def enter_operation_definition(
        self, node: OperationDefinitionNode, *_args: object
    ) -> VisitorAction:
        limits = self.limits
        count = alias_count(node, self.context.get_fragment)
        if count > limits.max_aliases:
            self.report_error(QueryLimitError(
                TOO_MANY_ALIASES,
                f"{operation_label(node)} has {count} aliased fields (fragments counted "
                f"each time they are spread); the limit is {limits.max_aliases}. Use fewer "
                "aliases: ask for many enterprises with one list field "
                "(enterprises, restrictionChecks) instead of aliasing a field once per "
                "enterprise, or send several requests.",
                [node],
            ))
        return SKIP


@functools.cache
def rule_classes(limits: QueryLimits) -> tuple[type[ASTValidationRule], ...]:
    """``DepthLimitRule`` and ``AliasLimitRule`` bound to ``limits``, built once per
    distinct ``limits``."""

    def bound(rule: type[ValidationRule]) -> type[ASTValidationRule]:
        made: type[ASTValidationRule] = type(
            rule.__name__, (rule,), {"limits": limits, "__module__": __name__})
        return made

    return bound(DepthLimitRule), bound(AliasLimitRule)


def limit_rules(limits: QueryLimits) -> list[type[ASTValidationRule]]:
    """The depth and alias rules for ``limits``, as graphql-core validation rules.

    Memoised: equal ``QueryLimits`` give the same class objects on every call, so the
    validation cache's key (which holds the rule classes) is stable across requests."""
    return list(rule_classes(limits))
