"""The demo HTTP agency: the standard's query protocol, health, failure modes and stats."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from gateway.demo.agency_service import (
    AgencyControl,
    AgencyStats,
    create_agency_app,
    create_sources_app,
    load_rows,
)
from gateway.demo.generate import generate_district
from gateway.demo.writer import write_demo

_A, _B, _C = "91110102MA01AAAA0X", "91110105MA01BBBB1Y", "91110108MA01CCCC2Z"


def _rows() -> dict[str, list[dict[str, str]]]:
    def judgment(record_id: str, code: str, person: str = "") -> dict[str, str]:
        return {"record_id": record_id, "credit_code": code, "openness": "OPEN",
                "risk_level": "HIGH", "person_id": person, "court": "北京市西城区人民法院",
                "case_no": f"(2026)京0102执{record_id[-1]}号", "obligation": "支付货款",
                "performance": "全部未履行", "listed_on": "2026-03-01", "removed_on": ""}

    return {
        "judgment_default": [
            judgment("JD-1", _A), judgment("JD-2", _B, "P001"), judgment("JD-3", _A, "P002"),
            judgment("JD-4", _C),
        ],
        "person": [{"record_id": "PER-1", "credit_code": "", "openness": "NOT_OPEN",
                    "risk_level": "", "person_id": "P001", "name": "张伟",
                    "id_number": "11010519491231002X"}],
    }


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agency")


def _ids(response: httpx.Response) -> list[str]:
    return [row["record_id"] for row in response.json()["items"]]


async def test_query_by_credit_codes_answers_in_the_order_asked() -> None:
    async with _client(create_agency_app(_rows())) as client:
        response = await client.post("/judgment_default/query",
                                     json={"credit_codes": [_C, _A, "unknown", _A]})
    assert response.status_code == 200
    assert _ids(response) == ["JD-4", "JD-1", "JD-3"]
    assert response.json()["items"][0]["court"] == "北京市西城区人民法院"


async def test_query_by_person_ids_finds_person_level_records_and_persons() -> None:
    async with _client(create_agency_app(_rows())) as client:
        records = await client.post("/judgment_default/query",
                                    json={"person_ids": ["P002", "P001"]})
        persons = await client.post("/person/query", json={"person_ids": ["P001"]})
        by_code = await client.post("/person/query", json={"credit_codes": [_A]})
    assert _ids(records) == ["JD-3", "JD-2"]
    assert _ids(persons) == ["PER-1"]
    assert _ids(by_code) == []  # persons have no credit code


async def test_empty_key_list_answers_no_items() -> None:
    async with _client(create_agency_app(_rows())) as client:
        response = await client.post("/judgment_default/query", json={"credit_codes": []})
    assert response.json() == {"items": []}


async def test_unknown_record_type_is_404_naming_what_is_served() -> None:
    async with _client(create_agency_app(_rows())) as client:
        response = await client.post("/penalty/query", json={"credit_codes": [_A]})
    assert response.status_code == 404
    assert "judgment_default" in response.json()["error"]


@pytest.mark.parametrize("body", [
    b"{not json", b"[1, 2]", b'{"codes": ["x"]}', b'{"credit_codes": "x"}',
    b'{"person_ids": [1]}',
])
async def test_malformed_body_is_400(body: bytes) -> None:
    app = create_agency_app(_rows())
    async with _client(app) as client:
        response = await client.post("/judgment_default/query", content=body)
    assert response.status_code == 400
    assert response.json()["error"]
    assert app.state.stats.queries == {}


async def test_health_is_200_when_ok_and_503_otherwise() -> None:
    app = create_agency_app(_rows())
    async with _client(app) as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        app.state.control.mode = "error_500"
        response = await client.get("/health")
    assert response.status_code == 503


async def test_stats_count_queries_and_keys_per_type() -> None:
    app = create_agency_app(_rows())
    async with _client(app) as client:
        await client.post("/judgment_default/query", json={"credit_codes": [_A, _B]})
        await client.post("/judgment_default/query", json={"person_ids": ["P001"]})
        await client.post("/person/query", json={"person_ids": ["P001", "P001"]})
    stats: AgencyStats = app.state.stats
    assert stats.queries == {"judgment_default": 2, "person": 1}
    assert stats.keys == {"judgment_default": 3, "person": 1}


async def test_error_500_mode_fails_queries() -> None:
    app = create_agency_app(_rows())
    control: AgencyControl = app.state.control
    control.mode = "error_500"
    async with _client(app) as client:
        response = await client.post("/judgment_default/query", json={"credit_codes": [_A]})
        assert response.status_code == 500
        control.mode = "ok"
        response = await client.post("/judgment_default/query", json={"credit_codes": [_A]})
    assert response.status_code == 200


async def test_garbage_mode_answers_200_with_a_body_that_is_not_json() -> None:
    app = create_agency_app(_rows())
    app.state.control.mode = "garbage"
    async with _client(app) as client:
        response = await client.post("/judgment_default/query", json={"credit_codes": [_A]})
    assert response.status_code == 200
    assert response.text == "not json{"
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_hang_mode_never_answers() -> None:
    app = create_agency_app(_rows())
    app.state.control.mode = "hang"
    async with _client(app) as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await client.post("/judgment_default/query", json={"credit_codes": [_A]})


async def test_close_mode_aborts_the_answer_in_process() -> None:
    app = create_agency_app(_rows())
    app.state.control.mode = "close"
    async with _client(app) as client:
        with pytest.raises(ConnectionAbortedError):
            await client.post("/judgment_default/query", json={"credit_codes": [_A]})


async def test_close_mode_drops_the_connection_over_real_http() -> None:
    app = create_agency_app(_rows())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no startup event
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.post("/judgment_default/query",
                                      json={"credit_codes": [_A]})).status_code == 200
            app.state.control.mode = "close"
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post("/judgment_default/query", json={"credit_codes": [_A]})
    finally:
        server.should_exit = True
        await task


async def test_failing_keys_are_reported_as_errors_while_others_are_answered() -> None:
    app = create_agency_app(_rows())
    app.state.control.failing_keys = {_A, "P001"}
    async with _client(app) as client:
        by_code = await client.post("/judgment_default/query", json={"credit_codes": [_A, _B]})
        by_person = await client.post("/judgment_default/query",
                                      json={"person_ids": ["P001", "P002"]})
    assert _ids(by_code) == ["JD-2"]
    assert [error["key"] for error in by_code.json()["errors"]] == [_A]
    assert _ids(by_person) == ["JD-3"]
    assert [error["key"] for error in by_person.json()["errors"]] == ["P001"]


async def test_latency_delays_each_query() -> None:
    app = create_agency_app(_rows(), latency_s=0.05)
    async with _client(app) as client:
        started = time.perf_counter()
        await client.post("/judgment_default/query", json={"credit_codes": [_A]})
        assert time.perf_counter() - started >= 0.05
        app.state.control.latency_s = 0.0
        started = time.perf_counter()
        await client.get("/health")
    assert time.perf_counter() - started < 0.05


async def test_serves_the_rows_written_by_the_demo_writer(tmp_path: Path) -> None:
    district = generate_district(enterprises=200)
    write_demo(district, tmp_path, http_base_url="http://agency")
    rows = load_rows(tmp_path / "court.json")
    assert rows == district.rows["COURT"]
    code, person = district.showcase_credit_code, district.showcase_person_id
    async with _client(create_agency_app(rows)) as client:
        by_code = await client.post("/judgment_default/query", json={"credit_codes": [code]})
        by_person = await client.post("/judgment_default/query", json={"person_ids": [person]})
    expected = [r["record_id"] for r in rows["judgment_default"] if r["credit_code"] == code]
    assert _ids(by_code) == expected and len(expected) >= 2
    assert _ids(by_person)


async def test_sources_app_serves_each_agency_under_its_name() -> None:
    district = generate_district(enterprises=200)
    app = create_sources_app({"court": district.rows["COURT"], "fire": district.rows["FIRE"]})
    code = district.showcase_credit_code
    async with _client(app) as client:
        court = await client.post("/court/judgment_default/query", json={"credit_codes": [code]})
        fire = await client.post("/fire/inspection/query", json={"credit_codes": [code]})
        assert court.status_code == fire.status_code == 200
        assert _ids(court) and _ids(fire)
        assert (await client.get("/health")).status_code == 200
        app.state.agencies["fire"].state.control.mode = "error_500"
        assert (await client.get("/fire/health")).status_code == 503
        assert (await client.get("/court/health")).status_code == 200
        assert (await client.get("/health")).status_code == 503
    assert app.state.agencies["court"].state.stats.queries == {"judgment_default": 1}


async def test_sources_app_can_serve_one_agency_at_the_root() -> None:
    app = create_sources_app({"court": _rows()}, root="court")
    async with _client(app) as client:
        root = await client.post("/judgment_default/query", json={"credit_codes": [_A]})
        named = await client.post("/court/judgment_default/query", json={"credit_codes": [_A]})
        assert (await client.get("/health")).json() == {"status": "ok"}
    assert _ids(root) == _ids(named) == ["JD-1", "JD-3"]


def test_load_rows_rejects_a_file_of_the_wrong_shape(tmp_path: Path) -> None:
    path = tmp_path / "agency.json"
    path.write_text('{"penalty": {"not": "a list"}}', encoding="utf-8")
    with pytest.raises(ValueError, match="penalty"):
        load_rows(path)
    path.write_text('{"penalty": [{"record_id": "X", "amount": null, "n": 3}]}',
                    encoding="utf-8")
    assert load_rows(path) == {"penalty": [{"record_id": "X", "amount": "", "n": "3"}]}
