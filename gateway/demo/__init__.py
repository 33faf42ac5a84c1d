"""The bundled demo: a synthetic district of six agencies (SQLite, CSV and HTTP sources).

``generate_district`` draws the rows, ``write_demo`` puts them on disk with a
gateway configuration, and ``create_agency_app`` serves an HTTP agency source.
"""

from __future__ import annotations

from gateway.demo.generate import AGENCIES, District, generate_district

__all__ = ["AGENCIES", "District", "generate_district"]
