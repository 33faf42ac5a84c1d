"""The http connector against the reference agency service on 127.0.0.1: records about
a responsible person are asked for with ``{"person_ids": [...]}`` on the same endpoint."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from conftest import ACME, BETA, ServerThread
from connectors.errors import SourceUnavailable
from connectors.http_service import HttpConnector
from connectors.records import RowProblem
from connectors.spec import AgencySpec
from gateway.demo.agency_service import create_agency_app
from gateway.runtime import default_http_client, default_http_transport


def judgment(rid: str, code: str | None, person: str | None) -> dict[str, str | None]:
    return {"record_id": rid, "credit_code": code, "person_id": person, "openness": "OPEN",
            "risk_level": "HIGH", "court": "北京市西城区人民法院",
            "case_no": f"(2026)京0102执{rid}号", "listed_on": "2026-03-01", "removed_on": None}


def penalty(rid: str, code: str | None, person: str | None) -> dict[str, str | None]:
    return {"record_id": rid, "credit_code": code, "person_id": person, "openness": "OPEN",
            "risk_level": "MEDIUM", "decision_no": f"西法罚〔2026〕{rid}号",
            "penalty_type": "FINE", "amount": "5000", "decided_on": "2026-03-01"}


ROWS: dict[str, list[dict[str, str | None]]] = {
    "judgment_default": [
        judgment("J1", ACME, None),
        judgment("J2", ACME, "P7"),  # on the person, in the enterprise
        judgment("J3", None, "P7"),  # on the person alone (JSON null)
        judgment("J4", "", "P8"),  # on the person alone (empty text)
    ],
    "penalty": [penalty("F1", BETA, None), penalty("F2", "", "P7")],
}


Found = list[tuple[str, str | None]]  # (record id, credit code)


@pytest.mark.parametrize(("record_type", "on_p7", "on_p8"), [
    ("judgment_default", [("J2", ACME), ("J3", None)], [("J4", None)]),
    ("penalty", [("F2", None)], []),
])
async def test_fetch_by_person_finds_records_without_credit_code(
    serve: Callable[..., ServerThread], record_type: str, on_p7: Found, on_p8: Found
) -> None:
    agency = create_agency_app(ROWS)
    server = serve(agency)
    spec = AgencySpec(code="COURT", name="人民法院", kind="http", location=server.url,
                      provides=("judgment_default", "penalty"))
    problems: list[RowProblem] = []
    async with httpx.AsyncClient() as client:
        source = HttpConnector(spec, report=problems.append, client=client)
        by_person = await source.fetch(record_type, "person_id", ["P7", "P8", "P9"])
        by_code = await source.fetch(record_type, "credit_code", [ACME, BETA])
    assert all(isinstance(result, list) for result in by_person + by_code)
    found = [[(r.record_id, r.credit_code) for r in result] for result in by_person
             if isinstance(result, list)]
    assert found == [on_p7, on_p8, []]
    codes = {r.credit_code for result in by_code if isinstance(result, list) for r in result}
    assert None not in codes  # asked by credit code, records on persons alone stay out
    assert problems == []
    assert agency.state.stats.queries == {record_type: 2}


async def test_the_agency_answers_person_ids_with_rows_whose_credit_code_is_empty() -> None:
    transport = httpx.ASGITransport(app=create_agency_app(ROWS))
    async with httpx.AsyncClient(transport=transport, base_url="http://agency") as client:
        judgments = await client.post("/judgment_default/query", json={"person_ids": ["P7", "P8"]})
        penalties = await client.post("/penalty/query", json={"person_ids": ["P7"]})
    assert [row["record_id"] for row in judgments.json()["items"]] == ["J2", "J3", "J4"]
    assert [row["record_id"] for row in penalties.json()["items"]] == ["F2"]


async def test_queries_sent_straight_to_the_transport_answer_as_through_the_client(
        serve: Callable[..., ServerThread]) -> None:
    """The gateway's connectors send queries straight to the shared client's transport
    (no cookies, hooks or redirects around it): the same records, keys and failures
    as through the client, and the client's own machinery is never involved."""
    server = serve(create_agency_app(ROWS))
    spec = AgencySpec(code="COURT", name="人民法院", kind="http", location=server.url,
                      provides=("judgment_default", "penalty"))
    broken = AgencySpec(code="COURT", name="人民法院", kind="http",
                        location=f"{server.url}/nowhere", provides=("penalty",))
    hooked: list[str] = []

    async def hook(request: httpx.Request) -> None:
        hooked.append(str(request.url))

    transport = default_http_transport()
    async with httpx.AsyncClient(event_hooks={"request": [hook]}) as plain, \
            default_http_client(transport) as shared:
        shared.event_hooks = {"request": [hook]}
        through_client = HttpConnector(spec, report=lambda problem: None, client=plain)
        straight = HttpConnector(spec, report=lambda problem: None, client=shared,
                                 transport=transport)
        for record_type, kind, keys in (("judgment_default", "person_id", ["P7", "P8"]),
                                        ("penalty", "credit_code", [ACME, BETA])):
            want = await through_client.fetch(record_type, kind, keys)
            assert len(hooked) == 1
            got = await straight.fetch(record_type, kind, keys)
            assert len(hooked) == 1  # not through the client
            assert got == want and any(got)
            hooked.clear()
        with pytest.raises(SourceUnavailable, match="answered HTTP 404"):
            await HttpConnector(broken, report=lambda problem: None, client=shared,
                                transport=transport).fetch("penalty", "credit_code", [ACME])
        hooked.clear()
        assert await straight.health()
        assert hooked == [f"{server.url}/health"]  # the health check: through the client
