"""The demo registry (登记): enterprises with valid credit codes and their legal representatives.

About one person in ten represents two to four enterprises, so risk can gather
under a person ("主体名下归风险"). The first enterprise is the showcase: a food
manufacturer in 西城区 whose legal representative represents three enterprises.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from connectors.credit_code import ALPHABET, with_check_char
from gateway.demo import vocabulary as v

__all__ = ["Enterprise", "Registry", "draw_registry", "resident_id_check_char"]

Row = dict[str, str]
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id_check_char(first17: str) -> str:
    """The GB 11643 check character of a resident ID number's first 17 digits."""
    total = sum(int(char) * weight for char, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


@dataclass(frozen=True, slots=True)
class Enterprise:
    """What record generation needs to know about one registered enterprise."""

    credit_code: str
    district: v.DistrictDef
    industry: str
    established: int  # date ordinal
    rep_id: str
    rep_name: str


@dataclass(frozen=True, slots=True)
class Registry:
    """Rows of SAMR's ``enterprise`` and ``person`` tables, and the enterprises drawn."""

    enterprise_rows: list[Row]
    person_rows: list[Row]
    enterprises: list[Enterprise]


def draw_registry(rng: random.Random, count: int, as_of: date, *,
                  solo: int = 0, side: random.Random | None = None) -> Registry:
    """Draw ``count`` enterprises (unique codes and names) and their legal representatives.

    The last ``solo`` enterprises are each represented by a person of their own,
    drawn from ``side`` (default ``rng``) so that ``rng`` draws the same registry
    with or without them; the generator plants its coverage records on them. They
    and the showcase (the first) are active, open and established at least three
    years before ``as_of``, so their planned records may be years old.
    """
    end = as_of.toordinal()
    persons: list[Row] = []
    person_ids: set[str] = set()
    slots: list[int] = []  # person index of each enterprise
    while len(slots) < count:
        index = len(persons)
        persons.append(_person(rng, index, end, person_ids))
        many = index == 0 or rng.random() < 0.1
        slots.extend([index] * (3 if index == 0 else rng.randint(2, 4) if many else 1))
    del slots[count:]
    rng.shuffle(slots)
    first = slots.index(0)
    slots[0], slots[first] = slots[first], slots[0]
    solo = min(solo, count - 1)
    side = side or rng
    if solo:
        for position in range(count - solo, count):
            slots[position] = len(persons)
            persons.append(_person(side, len(persons), end, person_ids))
    codes: set[str] = set()
    names: set[str] = set()
    rows: list[Row] = []
    enterprises = [_enterprise(rng, i, persons[p], end, codes, names, rows)
                   for i, p in enumerate(slots)]
    for position in (0, *range(count - solo, count)):
        enterprises[position] = _settled(enterprises[position], rows[position], end, side)
    represented = set(slots)
    persons = [person for index, person in enumerate(persons) if index in represented]
    for number, person in enumerate(persons, start=1):
        person["record_id"] = f"SAMR-PER-{number:06d}"
    return Registry(rows, persons, enterprises)


def _settled(ent: Enterprise, row: Row, end: int, rng: random.Random) -> Enterprise:
    """``ent`` made active, open and at least three years old (rewriting its row)."""
    established = min(ent.established, end - rng.randint(3 * 365, 15 * 365))
    row.update(openness="OPEN", status="ACTIVE",
               established_on=date.fromordinal(established).isoformat())
    return Enterprise(ent.credit_code, ent.district, ent.industry, established, ent.rep_id,
                      ent.rep_name)


def _person(rng: random.Random, index: int, end: int, taken: set[str]) -> Row:
    person_id = ""
    while not person_id or person_id in taken:
        person_id = f"P{rng.getrandbits(40):010x}"
    taken.add(person_id)
    birth = date.fromordinal(end - rng.randint(22 * 365, 65 * 365))
    first17 = f"{rng.choice(v.ID_AREAS)}{birth:%Y%m%d}{rng.randint(1, 999):03d}"
    given = rng.choice(v.GIVEN) + (rng.choice(v.GIVEN) if rng.random() < 0.7 else "")
    roll = rng.random()
    return {
        "record_id": f"SAMR-PER-{index + 1:06d}",
        "credit_code": "",
        "openness": "OPEN" if roll < 0.1 else "CONDITIONAL" if roll < 0.5 else "NOT_OPEN",
        "risk_level": "",
        "person_id": person_id,
        "name": rng.choice(v.SURNAMES) + given,
        "id_number": first17 + resident_id_check_char(first17),
    }


def _enterprise(rng: random.Random, index: int, rep: Row, end: int, codes: set[str],
                names: set[str], rows: list[Row]) -> Enterprise:
    showcase = index == 0
    district = v.DISTRICTS[1] if showcase else rng.choices(v.DISTRICTS, v.DISTRICT_WEIGHTS)[0]
    entity = "有限责任公司" if showcase else rng.choices(v.ENTITY_TYPES, v.ENTITY_WEIGHTS)[0]
    if showcase:
        industry = "食品制造业"
    elif entity == "农民专业合作社":
        industry = "农业"
    elif entity == "个体工商户":
        industry = rng.choice(v.SHOP_INDUSTRIES)
    else:
        industry = rng.choices(v.INDUSTRY_NAMES, v.INDUSTRY_WEIGHTS)[0]
    code = ""
    while not code or code in codes:
        organisation = "".join(rng.choices(ALPHABET, k=9))
        code = with_check_char(f"9{v.ENTITY_CODE_CLASS[entity]}{district.code}{organisation}")
    codes.add(code)
    name = ""
    while not name or name in names:
        brand = "".join(rng.choices(v.BRAND_SYLLABLES, k=2 if rng.random() < 0.9 else 3))
        name = v.enterprise_name(entity, district, brand, industry, rng)
    names.add(name)
    established = end - int(rng.triangular(60, 25 * 365, 3 * 365))
    address = f"北京市{district.name}{rng.choice(district.streets)}{rng.randint(1, 199)}号"
    if rng.random() < 0.4:
        address += f"{rng.randint(1, 12)}号楼{rng.randint(1, 20)}层"
    rows.append({
        "record_id": f"SAMR-ENT-{index + 1:06d}",
        "credit_code": code,
        "openness": "OPEN" if showcase or rng.random() < 0.9 else "CONDITIONAL",
        "risk_level": "",
        "name": name,
        "entity_type": entity,
        "legal_rep_id": rep["person_id"],
        "legal_rep_name": rep["name"],
        "registered_capital": rng.choice(v.SHOP_CAPITAL if entity == "个体工商户" else v.CAPITAL),
        "established_on": date.fromordinal(established).isoformat(),
        "status": "ACTIVE" if showcase else rng.choices(v.STATUSES, v.STATUS_WEIGHTS)[0],
        "address": address,
        "district_code": district.code,
        "industry": industry,
        "registering_agency": f"北京市{district.name}市场监督管理局",
        "business_scope": v.business_scope(industry, code),
    })
    return Enterprise(code, district, industry, established, rep["person_id"], rep["name"])
