"""Plain leaf fields completed in one step (``schema.leaf_fields``) answer exactly what
graphql-core's own completion answers: data, order, errors with their messages and
paths, on the gateway's schema and on a small schema built to go wrong."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension

from conftest import ACTIONS, Demo
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from gateway.runtime import open_runtime
from schema.access import Clearance
from schema.build import build_schema
from schema.direct_fields import install_direct_resolvers
from schema.leaf_fields import LeafFieldsExecutionContext

PAGE = """{ enterprises(first: 200) { totalCount edges { node {
  __typename creditCode name status
  licences { recordId agency { code name } openness riskLevel licenceNo validTo }
  penalties { recordId agency { code } amount personId decidedOn }
  seriousViolations { agency { __typename code } id: recordId listedOn }
  warning { level reasons { rule level agencies { code } } }
  creditGrade { grade basis }
} } } }"""


@pytest.mark.parametrize("clearance", [
    Clearance("admin"), Clearance("department", "TAX", "INSPECTION"), Clearance("public"),
])
async def test_the_gateways_page_is_answered_the_same(demo: Demo, clearance: Clearance) -> None:
    runtime = open_runtime(demo.config, policies=PolicyStore(DEFAULT_POLICY_DIR))
    try:
        answers = []
        for leaf_fields in (True, False):
            schema = build_schema(actions=ACTIONS, leaf_fields=leaf_fields,
                                  without=PolicyStore(DEFAULT_POLICY_DIR).current().classes
                                  .above_open() if clearance.role == "public" else None)
            query = PAGE.replace("personId", "") if clearance.role == "public" else PAGE
            answers.append(await schema.execute(query,
                                                context_value=runtime.new_context(clearance)))
    finally:
        await runtime.aclose()
    fast, usual = answers
    assert fast.errors is None and usual.errors is None
    # the same bytes: values and the order of every object's keys
    assert json.dumps(fast.data) == json.dumps(usual.data)
    assert fast.extensions == usual.extensions
    assert fast.data is not None and fast.data["enterprises"]["edges"]


# --- a small schema whose values go wrong -------------------------------------------------


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@strawberry.type
class Owner:
    code: str
    note: str | None


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Item(Named):
    name: str
    colour: Colour | None
    size: int | None
    owner: Owner
    spare: Owner | None
    # lists inside an item (as a warning's reasons and their agencies)
    owners: list[Owner] = strawberry.field(default_factory=list)
    maybe_owners: list[Owner | None] | None = None
    colours: list[Colour] = strawberry.field(default_factory=list)
    sizes: list[int | None] | None = None

    @strawberry.field
    def computed(self) -> str:
        return f"<{self.name}>"


def _item(name: Any = "a", colour: Any = Colour.RED, size: Any = 1,
          owner: Any = None, spare: Any = None) -> Item:
    return Item(name=name, colour=colour, size=size,
                owner=owner if owner is not None else Owner(code="O", note=None), spare=spare)


def _lists(owners: Any = None, maybe_owners: Any = None, colours: Any = None,
           sizes: Any = (3, None)) -> Item:
    item = _item()
    item.owners = [Owner(code="A", note=None), Owner(code="B", note="b")] \
        if owners is None else owners
    item.maybe_owners = maybe_owners
    item.colours = [Colour.GREEN] if colours is None else colours
    item.sizes = sizes if not isinstance(sizes, tuple) else list(sizes)
    return item


CASES: dict[str, list[Item]] = {
    "all well": [_item(), _item("b", Colour.GREEN, None, spare=Owner(code="S", note="n"))],
    "null for a non-null leaf": [_item(), _item(name=None)],
    "a value the enum does not have": [_item(), _item(colour="purple")],
    "a value the scalar refuses": [_item(size="many")],
    "a non-null object missing": [_item(), Item(name="x", colour=None, size=None,
                                                owner=None, spare=None)],  # type: ignore[arg-type]
    "an inner non-null leaf null": [_item(owner=Owner(code=None, note="n"))],  # type: ignore[arg-type]
    "a null item": [_item(), None],  # type: ignore[list-item]
    "an item of another type": [_item(), Owner(code="O", note=None)],  # type: ignore[list-item]
    "lists inside items": [_lists(), _lists(owners=[], maybe_owners=[None], colours=[],
                                            sizes=[None, 2])],
    "a null in a non-null inner list": [_lists(), _lists(owners=[None])],
    "an inner list item with a null leaf": [_lists(maybe_owners=[Owner(code=None, note="n")])],  # type: ignore[arg-type]
    "an enum value the inner list's type lacks": [_lists(colours=[Colour.RED, "purple"])],
    "an inner list that is not a list": [_lists(sizes=7)],
    "an inner scalar the type refuses": [_lists(sizes=[1, "many"])],
}
SMALL = """{ items {
  name colour size kind: __typename
  owner { code note }
  spare { note code }
  owners { code } maybeOwners { note code } colours sizes
  computed
  again: name
} }"""


# lists whose items ask only for plain leaves: each list completed in one step
LEAVES = """{
  items { name colour size owner { code note } spare { note code } again: name
          owners { note code } maybeOwners { code } colours sizes }
  maybeItems { size name }
  first: maybeItems { name owner { code } }
}"""


class Counted(SchemaExtension):
    """A resolve hook: field middleware, under which nothing is completed directly."""

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        return _next(root, info, *args, **kwargs)


def _small_schema(items: list[Item], leaf_fields: bool,
                  extensions: tuple[type[SchemaExtension], ...] = ()) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item] | None:
            return items

        @strawberry.field
        def maybe_items(self) -> list[Item | None]:
            return items  # type: ignore[return-value]

    schema = strawberry.Schema(
        query=Query, extensions=list(extensions), types=[Item, Owner],
        execution_context_class=LeafFieldsExecutionContext if leaf_fields else None)
    install_direct_resolvers(schema._schema)
    return schema


def _answer(result: Any) -> tuple[str, list[dict[str, Any]]]:
    errors = [error.formatted for error in result.errors or []]
    return json.dumps(result.data), sorted(errors, key=json.dumps)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("extensions", [(), (Counted,)], ids=["plain", "middleware"])
@pytest.mark.parametrize("query", [SMALL, LEAVES], ids=["mixed", "leaves"])
async def test_values_and_errors_are_graphql_cores(
    case: str, extensions: tuple[type[SchemaExtension], ...], query: str
) -> None:
    items = CASES[case]
    fast = await _small_schema(items, True, extensions).execute(query)
    usual = await _small_schema(items, False, extensions).execute(query)
    assert _answer(fast) == _answer(usual)
    if case in ("all well", "lists inside items"):
        assert fast.errors is None
    else:
        assert fast.errors, "each broken case is an error"



@strawberry.type
class Group:
    """Items inside an item of a list (as records under a page's enterprise)."""

    items: list[Item | None]

def _watched(executed: list[str], completed: list[str] | None = None
             ) -> type[LeafFieldsExecutionContext]:
    """An execution context noting each field graphql-core executes and, given
    ``completed``, each field whose value graphql-core completes."""

    class Watched(LeafFieldsExecutionContext):
        def execute_field(self, parent_type: Any, source: Any, field_details_list: Any,
                          path: Any, position_context: Any) -> Any:
            executed.append(field_details_list[0].node.name.value)
            return super().execute_field(parent_type, source, field_details_list, path,
                                         position_context)

        def complete_value(self, return_type: Any, field_details_list: Any, info: Any,
                           path: Any, result: Any, position_context: Any) -> Any:
            if completed is not None:
                completed.append(info.field_name)
            return super().complete_value(return_type, field_details_list, info, path,
                                          result, position_context)

    return Watched


async def test_plain_leaves_skip_graphql_cores_field_execution() -> None:
    """What makes it faster: fields of plain leaves are not executed one by one."""
    executed: list[str] = []
    Watched = _watched(executed)

    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item]:
            return CASES["all well"]

    schema = strawberry.Schema(query=Query, execution_context_class=Watched)
    install_direct_resolvers(schema._schema)
    result = await schema.execute(SMALL)
    assert result.errors is None
    assert sorted(set(executed)) == ["__typename", "computed", "items"]


async def test_lists_of_plain_leaves_skip_graphql_cores_item_completion() -> None:
    """Lists whose items ask only for plain leaves (the record lists), inside an item of
    another list (a page's enterprise), are completed in one step, null items too; an
    item of another type leaves its list to graphql-core. A list not inside a list
    (one enterprise's) goes graphql-core's way: its plan would cost more than it saves."""
    completed: list[str] = []

    class Watched(LeafFieldsExecutionContext):
        def complete_object_value(self, return_type: Any, field_details_list: Any,
                                  info: Any, path: Any, result: Any,
                                  position_context: Any) -> Any:
            completed.append(f"{info.field_name}:{return_type.name}")
            return super().complete_object_value(return_type, field_details_list, info,
                                                 path, result, position_context)

    items: list[Any] = [*CASES["all well"], None]

    @strawberry.type
    class Query:
        @strawberry.field
        def groups(self) -> list[Group]:
            return [Group(items=items)]

        @strawberry.field
        def items(self) -> list[Item | None]:
            return items

    schema = strawberry.Schema(query=Query, execution_context_class=Watched)
    install_direct_resolvers(schema._schema)
    query = "{ groups { items { name owner { code } } } }"
    result = await schema.execute(query)
    assert result.errors is None and result.data is not None
    assert result.data["groups"][0]["items"][1:] == [{"name": "b", "owner": {"code": "O"}},
                                                      None]
    assert completed == ["groups:Group"]
    completed.clear()
    top = await schema.execute("{ items { name owner { code } } }")
    assert top.data == {"items": result.data["groups"][0]["items"]}
    assert completed == ["items:Item"] * 2  # graphql-core's way
    completed.clear()
    items.append(Owner(code="X", note=None))
    result = await schema.execute(query)
    assert result.errors and "Expected value of type 'Item'" in result.errors[0].message
    assert completed == ["groups:Group", *["items:Item"] * 3]


def test_every_enum_of_the_gateways_schema_is_named_as_its_type_names_it() -> None:
    """The member-name lookup (``_output``) answers what strawberry's enum coercion
    answers for every member of every enum, and leaves anything else to it."""
    from graphql import GraphQLEnumType

    from schema.leaf_fields import _output

    schema = build_schema(actions=ACTIONS)._schema
    enums = [t for t in schema.type_map.values()
             if isinstance(t, GraphQLEnumType) and not t.name.startswith("__")]
    assert len(enums) > 5
    looked_up = 0
    for graphql_enum in enums:
        output = _output(graphql_enum)
        members = getattr(graphql_enum, "wrapped_cls", None)
        if members is not None:
            for member in members:
                assert output(member) == graphql_enum.coerce_output_value(member)
                looked_up += 1
        for other in ("NOT_A_MEMBER", 12345, next(iter(graphql_enum.values))):
            try:
                expected: Any = graphql_enum.coerce_output_value(other)
            except Exception as error:  # the same refusal either way
                with pytest.raises(type(error)):
                    output(other)
            else:
                assert output(other) == expected
    assert looked_up > 20


# --- fields answered by a DirectResolver (a page's record lists, warning and grade) ---


@strawberry.type
class Shelf:
    """An item of a list whose other fields are answered by direct resolvers."""

    label: str
    stock: strawberry.Private[Any] = None  # what ``items`` answers (or raises, or awaits)
    top: strawberry.Private[Any] = None  # what ``best`` answers
    keeper: strawberry.Private[Any] = None  # what ``must`` answers

    @strawberry.field
    def items(self, limit: int = 10) -> list[Item]:
        raise AssertionError("replaced by a direct resolver")

    @strawberry.field
    def best(self) -> Item | None:
        raise AssertionError("replaced by a direct resolver")

    @strawberry.field
    def must(self) -> Owner:
        raise AssertionError("replaced by a direct resolver")


def _later(value: Any) -> Any:
    async def answer() -> Any:
        return value

    return answer


def _shelf(stock: Any = None, top: Any = "item", keeper: Any = "owner") -> Shelf:
    return Shelf(label="s",
                 stock=[_item(), _item("b", Colour.GREEN)] if stock is None else stock,
                 top=_item("t") if top == "item" else top,
                 keeper=Owner(code="K", note=None) if keeper == "owner" else keeper)


SHELF_CASES: dict[str, Any] = {
    "all well": _shelf(),
    "a list that raises": _shelf(stock=ValueError("stock unreadable")),
    "a list answered later": _shelf(stock=_later([_item("late")])),
    "an object answered later": _shelf(top=_later(_item("late"))),
    "a null object where allowed": _shelf(top=None),
    "a null where none may be": _shelf(keeper=None),
    "a null item": _shelf(stock=[_item(), None]),
    "an item of another type": _shelf(stock=[Owner(code="O", note=None)]),
    "not a list": _shelf(stock="many"),
    "an object of another type": _shelf(top=Owner(code="O", note=None)),
    "an object with a null leaf": _shelf(top=_item(name=None)),
    "an object that raises": _shelf(top=KeyError("top")),
}
SHELVES = """{ shelves { label items(limit: 2) { name colour owner { code } }
                          best { name size } must { code } again: label } }"""


def _shelf_schema(shelves: list[Shelf], leaf_fields: bool, calls: list[str]) -> strawberry.Schema:
    from graphql import GraphQLObjectType

    from schema.direct_fields import DirectResolver

    @strawberry.type
    class Query:
        @strawberry.field
        def shelves(self) -> list[Shelf | None]:
            return shelves  # type: ignore[return-value]

        @strawberry.field
        def shelf(self) -> Shelf | None:
            return shelves[0]

    def answer_of(attribute: str) -> DirectResolver:
        def resolve(source: Any, info: Any, **arguments: Any) -> Any:
            calls.append(f"{attribute}:{sorted(arguments.items())}:{type(info).__name__}:"
                         f"{info.field_name}:{info.path.as_list()}:{info.return_type}:"
                         f"{info.parent_type.name}:{len(info.field_nodes)}:"
                         f"{info.variable_values}:{info.context}:{info.root_value}:"
                         f"{info.operation.operation}:{sorted(info.fragments)}")
            value = getattr(source, attribute)
            if isinstance(value, Exception):
                raise value
            return value() if callable(value) else value

        return DirectResolver(resolve)

    schema = strawberry.Schema(
        query=Query, types=[Item, Owner, Shelf],
        execution_context_class=LeafFieldsExecutionContext if leaf_fields else None)
    install_direct_resolvers(schema._schema)
    shelf_type = schema._schema.type_map["Shelf"]
    assert isinstance(shelf_type, GraphQLObjectType)
    for field, attribute in (("items", "stock"), ("best", "top"), ("must", "keeper")):
        shelf_type.fields[field].resolve = answer_of(attribute)
    return schema


@pytest.mark.parametrize("case", sorted(SHELF_CASES))
@pytest.mark.parametrize("query", [SHELVES, SHELVES.replace("shelves", "shelf")],
                         ids=["in-a-list", "alone"])
async def test_direct_fields_answer_and_fail_as_graphql_core_does(case: str, query: str
                                                                  ) -> None:
    """Each direct field resolved once, with its arguments; values, nulls, awaited
    answers and errors (their messages and paths) as graphql-core's own execution."""
    answers, calls = [], []
    for leaf_fields in (True, False):
        called: list[str] = []
        result = await _shelf_schema([SHELF_CASES[case], _shelf()], leaf_fields,
                                     called).execute(query)
        answers.append(_answer(result))
        calls.append(called)
    assert answers[0] == answers[1]
    assert calls[0] == calls[1]
    assert any(call.startswith("stock:[('limit', 2)]") for call in calls[0])
    if case in ("all well", "a list answered later", "an object answered later",
                "a null object where allowed"):
        assert answers[0][1] == []
    else:
        assert answers[0][1], "each broken case is an error"


async def test_direct_fields_in_a_list_skip_graphql_cores_field_execution() -> None:
    """What makes a page faster: inside a list, direct fields are not executed through
    graphql-core's ``execute_field``, and their plain results are not completed by it."""
    executed: list[str] = []
    completed: list[str] = []
    schema = _shelf_schema([_shelf(), _shelf()], True, [])
    schema.execution_context_class = _watched(executed, completed)
    result = await schema.execute(SHELVES)
    assert result.errors is None
    assert executed == ["shelves"]
    assert set(completed) == {"shelves"}
    executed.clear()
    result = await schema.execute(SHELVES.replace("shelves", "shelf"))
    assert result.errors is None
    assert sorted(executed) == ["best", "items", "must", "shelf"]  # alone: the usual way
