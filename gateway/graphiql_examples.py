"""The example tabs GraphiQL opens with, and the headers each one sends.

Four tabs: one enterprise's file (企业档案), a filtered list, a restriction check
(联合惩戒) and a person. Each tab's header editor shows how a caller passes its
key and purpose (``Authorization: Bearer <key>``, ``X-Purpose``; see
``gateway.callers``); the list is asked as the public, with no header.

The demo passes its showcase enterprise, its legal representative and two demo
keys (``gateway.demo.examples``); a deployment's page takes the first enterprise
of its registry and shows ``YOUR-API-KEY`` where a key goes - never a person id,
which the public may not read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["Examples", "Tab", "example_tabs", "header_text"]

PLACEHOLDER_KEY = "YOUR-API-KEY"


@dataclass(frozen=True, slots=True)
class Examples:
    """What the example tabs ask about, and with which keys.

    ``credit_code`` None: the registry's first enterprise. ``person_id`` None: the
    person tab asks for an id the caller fills in.
    """

    credit_code: str | None = None
    person_id: str | None = None
    department_key: str = PLACEHOLDER_KEY  # a department's key (declares INSPECTION)
    approval_key: str = PLACEHOLDER_KEY  # an approval system's key (LICENCE_APPROVAL)


@dataclass(frozen=True, slots=True)
class Tab:
    """One GraphiQL tab: ``query`` text, ``variables`` and ``headers`` as JSON text
    (GraphiQL names the tab after the query's operation)."""

    query: str
    variables: str
    headers: str

    def as_graphiql(self) -> dict[str, str]:
        """GraphiQL's ``TabDefinition``."""
        return {"query": self.query, "variables": self.variables, "headers": self.headers}


def header_text(key: str | None, purpose: str | None) -> str:
    """Headers as the header editor shows them (JSON): the key and the purpose."""
    headers: dict[str, str] = {}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if purpose is not None:
        headers["X-Purpose"] = purpose
    return json.dumps(headers, indent=2)


# GraphiQL's editor is about 50 characters wide at 1280 pixels: lines stay short
_FILE = """\
# One enterprise's file (企业档案): its registry
# entry and every agency's records this caller may
# read. The headers (below) send a department's
# key and its purpose (X-Purpose); with no headers
# you are the public and see OPEN records only.
# Run: Ctrl-Enter or the play button.
query EnterpriseFile {
  enterprise(creditCode: "%(code)s") {
    creditCode name status industry legalRepName
    creditGrade { grade name }
    penalties {
      agency { code } decisionNo penaltyType
      amount decidedOn openness riskLevel
    }
    licences {
      agency { code } licenceName validTo status
    }
    anomalies { agency { code } reason listedOn }
    seriousViolations {
      agency { code } reason listedOn
    }
    judgmentDefaults {
      agency { code } court caseNo performance
    }
    inspections {
      agency { code } inspectedOn result
    }
    warning {
      level
      reasons { rule level agencies { code } }
    }
  }
}
"""

_LIST = """\
# A filtered list: enterprises with a red warning
# (红色预警), 10 a page, asked as the public (no
# headers). Next page: after: "<endCursor>".
# Filters: nameContains, industry, districtCode
# (or a prefix), status, hasRecordsFrom (an agency
# code), warningLevel, creditGrade.
query RedWarnings {
  enterprises(
    filter: {warningLevel: RED, status: ACTIVE}
    first: 10
  ) {
    totalCount
    edges {
      node {
        creditCode name industry creditGrade { grade }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

_CHECK = """\
# A restriction check (联合惩戒): may this
# enterprise be granted a licence? For approval
# systems declaring an approval purpose (headers
# below) and administrators; others get FORBIDDEN.
# asOf: "YYYY-MM-DD" gives a past day's decision;
# Ctrl-Space after "action:" lists the actions.
query RestrictionCheck {
  restrictionCheck(
    creditCode: "%(code)s"
    action: LICENCE_APPLICATION
  ) {
    decision grade warningLevel
    reasons { rule measure agencies { code } }
    sources { agency { code } available freshness }
    asOf
  }
}
"""

_PERSON = """\
# A person (法定代表人): their own records, their
# warning (it reaches every enterprise they
# represent) and those enterprises.%(hint)s
query Person($personId: String!) {
  person(personId: $personId) {
    personId name
    warning {
      level reasons { rule agencies { code } }
    }
    penalties { agency { code } decisionNo decidedOn }
    judgmentDefaults { agency { code } court caseNo }
    enterprises { creditCode name status }
  }
}
"""

_PERSON_HINT = """
# Person ids are not public: ask, with a key,
# enterprise(creditCode: "...") { legalRepId }
# and put the id in the variables (below)."""


def example_tabs(examples: Examples, credit_code: str) -> tuple[Tab, ...]:
    """The tabs for ``examples``, about the enterprise ``credit_code``."""
    department = header_text(examples.department_key, "INSPECTION")
    person_id = examples.person_id or ""
    return (
        Tab(_FILE % {"code": credit_code}, "{}", department),
        Tab(_LIST, "{}", header_text(None, None)),
        Tab(_CHECK % {"code": credit_code}, "{}",
            header_text(examples.approval_key, "LICENCE_APPROVAL")),
        Tab(_PERSON % {"hint": "" if examples.person_id else _PERSON_HINT},
            json.dumps({"personId": person_id}, indent=2), department),
    )
