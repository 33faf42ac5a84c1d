"""The bundled demo: a synthetic district of six agencies (SQLite, CSV and HTTP sources).

``generate_district`` draws the rows deterministically, ``write_demo`` puts them on
disk with a gateway configuration, and ``gateway.demo.agency_service`` serves the
HTTP agencies (not imported here, so ``python -m gateway.demo.agency_service`` runs
cleanly).
"""

from __future__ import annotations

from gateway.demo.generate import AGENCIES, GENERATOR_VERSION, District, generate_district
from gateway.demo.writer import read_stamp, stamp_matches, write_config, write_demo

__all__ = [
    "AGENCIES",
    "GENERATOR_VERSION",
    "District",
    "generate_district",
    "read_stamp",
    "stamp_matches",
    "write_config",
    "write_demo",
]
