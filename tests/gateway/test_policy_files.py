"""Policy files: checked at start with located errors, reloaded when they change."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.standard import Openness
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyError, PolicyStore, load_policy
from schema.access import Clearance


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    return folder


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_policy_loads() -> None:
    load_policy(DEFAULT_POLICY_DIR)


def test_every_file_starts_with_a_comment_saying_what_it_governs() -> None:
    for name in ("model.conf", "policy.csv", "fields.yaml"):
        first = (DEFAULT_POLICY_DIR / name).read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("#") and len(first) > 20, name


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("policy.csv", "p, public, *, *, OPEN, *, allow", "p, visitor, *, *, OPEN, *, allow",
         "policy.csv: line 10 (visitor, *, *, OPEN, *, allow): unknown role 'visitor'"),
        ("policy.csv", "p, auditor, *, *, OPEN, *, allow", "p, auditor, *, *, OPEN, allow",
         "needs 6 values"),
        ("policy.csv", "p, admin, *, *, *, *, allow", "p, admin, *, Penalty.amout, *, *, allow",
         "unknown object 'Penalty.amout'"),
        ("policy.csv", "p, public, *, *, OPEN, *, allow", "p, public, *, *, PUBLIC, *, allow",
         "openness must be"),
        ("fields.yaml", "  idNumber: NOT_OPEN", "  idNumber: SECRET",
         "fields.yaml: Person.idNumber: class must be one of"),
        ("fields.yaml", "  planId: CONDITIONAL              # internal spot-check plan\n", "",
         "fields.yaml: Inspection.planId: class must be one of"),
        ("fields.yaml", "  amount: OPEN", "  amount: OPEN\n  colour: OPEN",
         "fields.yaml: Penalty.colour: no such field"),
        ("fields.yaml", "  creditCode: OPEN", "  creditCode: CONDITIONAL",
         "Enterprise.creditCode: must be OPEN"),
        ("fields.yaml", "Licence:", "Licence: [\n", "fields.yaml: is not valid YAML"),
        ("model.conf", "[matchers]\nm = ", "[matchers]\nm = (((", "Casbin cannot use them"),
    ],
)
def test_a_broken_file_stops_the_start_with_a_located_error(
    policies: Path, file: str, old: str, new: str, message: str
) -> None:
    replace(policies / file, old, new)
    with pytest.raises(PolicyError) as caught:
        load_policy(policies)
    assert message in str(caught.value)


def test_a_missing_file_is_named(policies: Path) -> None:
    (policies / "policy.csv").unlink()
    with pytest.raises(PolicyError, match=r"policy.csv: missing"):
        load_policy(policies)


def test_serve_refuses_to_start_on_a_broken_policy(policies: Path, tmp_path: Path) -> None:
    replace(policies / "policy.csv", "p, public,", "p, pubic,")
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--policies", str(policies),
         "--demo-dir", str(tmp_path / "demo"), "--port", "0"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert "unknown role 'pubic'" in result.stderr
    assert "Traceback" not in result.stderr


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def bump(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def test_a_changed_policy_is_picked_up_and_the_memo_starts_afresh(policies: Path) -> None:
    clock = Clock()
    store = PolicyStore(policies, check_every_s=1.0, clock=clock)
    public = Clearance("public")
    first = store.current()
    assert first.allowed(public, "Penalty", Openness.OPEN, "SAMR")  # memoized now
    replace(policies / "policy.csv", "p, public, *, *, OPEN, *, allow",
            "p, public, *, *, OPEN, *, allow\np, public, *, Penalty.*, *, *, deny")
    bump(policies / "policy.csv")
    assert store.current() is first  # not looked at again within check_every_s
    clock.now = 2.0
    second = store.current()
    assert second is not first and store.version == 2
    assert not second.allowed(public, "Penalty", Openness.OPEN, "SAMR")
    assert second.allowed(public, "Licence", Openness.OPEN, "SAMR")


def test_a_broken_change_keeps_the_last_good_policy(policies: Path) -> None:
    clock = Clock()
    store = PolicyStore(policies, clock=clock)
    good = store.current()
    replace(policies / "policy.csv", "p, public,", "p, pubic,")
    bump(policies / "policy.csv")
    clock.now = 5.0
    assert store.current() is good and store.version == 1
