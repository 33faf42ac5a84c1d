"""What a count counts (schema/statistics_compute.py), rule by rule, under the shipped
policy and a variant of it: records by asOf and withdrawal, keys the caller may not
read are null, enterprises by establishment, record lists the caller may not read."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import yaml

from connectors.records import Record, Value
from connectors.standard import Openness, RiskLevel
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from schema.access import Clearance
from schema.statistics_compute import Dimension, Selection, Unit, tabulate

POLICY = PolicyStore(DEFAULT_POLICY_DIR)
PUBLIC = Clearance("public")
DAY = dt.date(2026, 11, 1)
CODE = "911100000000000017"


def firm(code: str = CODE, established: dt.date = dt.date(2010, 5, 1),
         openness: Openness = Openness.OPEN) -> Record:
    values: dict[str, Value] = {"name": "甲公司", "district_code": "110102", "industry": "餐饮",
                                "status": "ACTIVE", "established_on": established}
    return Record("enterprise", "SAMR", f"E-{code}", code, openness, None, values)


def penalty(record_id: str, decided: dt.date | None, openness: Openness = Openness.OPEN,
            **more: Value) -> Record:
    values: dict[str, Value] = {"decided_on": decided, **more}
    return Record("penalty", "TAX", record_id, CODE, openness, RiskLevel.LOW, values)


def count(records: list[Record], group_by: tuple[Dimension, ...], as_of: dt.date = DAY,
          clearance: Clearance = PUBLIC, policy: PolicyStore = POLICY,
          enterprises: list[Record] | None = None) -> dict[tuple[str | None, ...], int]:
    view = policy.current().view(clearance)
    table = tabulate(view, enterprises or [firm()], {CODE: records}, Selection(), group_by,
                     as_of)
    return {key: cell.count for key, cell in table.cells.items()}


def test_records_count_from_their_date_until_withdrawn() -> None:
    records = [penalty("P1", dt.date(2026, 3, 4)),
               penalty("P2", dt.date(2026, 6, 1), withdrawn_on=dt.date(2026, 9, 1)),
               penalty("P3", None)]  # no date: taken to exist, as in the rules
    by_month = (Dimension.MONTH,)
    assert count(records, by_month) == {("2026-03",): 1, (None,): 1}
    assert count(records, by_month, dt.date(2026, 8, 31)) == {
        ("2026-03",): 1, ("2026-06",): 1, (None,): 1}
    assert count(records, by_month, dt.date(2026, 3, 3)) == {(None,): 1}


def test_a_date_the_caller_may_not_read_is_a_null_month() -> None:
    """A CONDITIONAL penalty is seen by a department with a purpose; the public sees
    neither it nor its month."""
    records = [penalty("P1", dt.date(2026, 3, 4), Openness.CONDITIONAL)]
    department = Clearance("department", "FDA", "STATISTICS")
    assert count(records, (Dimension.MONTH,), clearance=department) == {("2026-03",): 1}
    assert count(records, (Dimension.MONTH,)) == {}


def test_enterprises_count_from_their_establishment() -> None:
    young = firm("911100000000000025", established=dt.date(2026, 10, 1))
    both = [firm(), young]
    assert count([], (Dimension.DISTRICT,), enterprises=both) == {("110102",): 2}
    assert count([], (Dimension.DISTRICT,), dt.date(2026, 9, 30), enterprises=both) == {
        ("110102",): 1}


def test_unit_and_mixed_groupings() -> None:
    view = POLICY.current().view(PUBLIC)
    records = {CODE: [penalty("P1", dt.date(2026, 3, 4)), penalty("P2", dt.date(2026, 4, 4))]}
    enterprises = tabulate(view, [firm()], records, Selection(), (Dimension.DISTRICT,), DAY)
    mixed = tabulate(view, [firm()], records, Selection(),
                     (Dimension.DISTRICT, Dimension.AGENCY), DAY)
    assert enterprises.unit is Unit.ENTERPRISES and enterprises.total == 1
    assert mixed.unit is Unit.RECORDS and mixed.total == 2
    assert list(mixed.cells) == [("110102", "TAX")]
    assert mixed.cells[("110102", "TAX")].enterprises == 1


def with_fields(tmp_path: Path, changes: dict[str, str]) -> PolicyStore:
    """The shipped policies with some Enterprise fields classed differently."""
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    path = folder / "fields.yaml"
    header = "".join(line for line in path.read_text(encoding="utf-8").splitlines(True)
                     if line.startswith("#"))
    classes = yaml.safe_load(path.read_text(encoding="utf-8"))
    classes["Enterprise"].update(changes)
    path.write_text(header + yaml.safe_dump(classes, allow_unicode=True), encoding="utf-8")
    return PolicyStore(folder)


def test_values_and_lists_the_caller_may_not_read(tmp_path: Path) -> None:
    """Industry classed CONDITIONAL: the public's industry key is null (never the value);
    the penalty list classed CONDITIONAL: the public counts none of its records."""
    policy = with_fields(tmp_path, {"industry": "CONDITIONAL", "penalties": "CONDITIONAL"})
    records = [penalty("P1", dt.date(2026, 3, 4))]
    assert count(records, (Dimension.INDUSTRY,), policy=policy) == {(None,): 1}
    assert count(records, (Dimension.RECORD_TYPE,), policy=policy) == {}
    department = Clearance("department", "TAX", "STATISTICS")
    assert count(records, (Dimension.INDUSTRY, Dimension.RECORD_TYPE), policy=policy,
                 clearance=department) == {("餐饮", "Penalty"): 1}
