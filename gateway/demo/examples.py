"""GraphiQL's example tabs for the demo: its showcase enterprise, the showcase's legal
representative and the demo keys a department and an approval system use (the
README prints them too)."""

from __future__ import annotations

from pathlib import Path

from gateway.demo.principals import DEMO_KEYS
from gateway.demo.writer import read_stamp
from gateway.graphiql_examples import Examples

__all__ = ["demo_examples"]


def demo_examples(data_dir: Path) -> Examples:
    """The examples for the demo data in ``data_dir`` (its stamp names the showcase)."""
    stamp = read_stamp(data_dir) or {}
    code = stamp.get("showcase_credit_code")
    person = stamp.get("showcase_person_id")
    return Examples(
        credit_code=code if isinstance(code, str) else None,
        person_id=person if isinstance(person, str) else None,
        department_key=DEMO_KEYS["demo-samr-department"][0],
        approval_key=DEMO_KEYS["demo-approval-system"][0],
    )
