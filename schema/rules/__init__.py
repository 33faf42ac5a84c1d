"""Warnings, credit grades and restriction decisions: pure functions over records.

The rules themselves are data (``policies/warnings.yaml``, ``grades.yaml``,
``restrictions.yaml``), read into the dataclasses of ``schema.rules.model``.
"""
