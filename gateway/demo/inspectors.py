"""The demo's inspector roster (执法检查人员名录) for double-random inspections.

Each inspector serves one of the demo's agencies; the market regulators come from the
municipal enforcement corps and from four district bureaus, so that an enterprise is
never visited by an inspector of the bureau that registered it (回避: ``unit`` equals
the registry's ``registering_agency``) and every plan can still staff its visits.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEMO_INSPECTORS", "demo_inspectors"]

# id -> (name, agency, unit)
DEMO_INSPECTORS: dict[str, tuple[str, str, str]] = {
    "SAMR-01": ("王磊", "SAMR", "北京市市场监督管理综合执法总队"),
    "SAMR-02": ("李娜", "SAMR", "北京市市场监督管理综合执法总队"),
    "SAMR-03": ("张伟", "SAMR", "北京市西城区市场监督管理局"),
    "SAMR-04": ("刘洋", "SAMR", "北京市东城区市场监督管理局"),
    "SAMR-05": ("陈静", "SAMR", "北京市朝阳区市场监督管理局"),
    "SAMR-06": ("杨帆", "SAMR", "北京市海淀区市场监督管理局"),
    "EPB-01": ("周强", "EPB", "北京市生态环境保护综合执法总队"),
    "EPB-02": ("吴婷", "EPB", "北京市生态环境保护综合执法总队"),
    "FDA-01": ("赵敏", "FDA", "北京市药品监督管理局稽查处"),
    "FDA-02": ("黄磊", "FDA", "北京市药品监督管理局稽查处"),
    "FIRE-01": ("孙浩", "FIRE", "北京市消防救援总队防火监督处"),
    "FIRE-02": ("马丽", "FIRE", "北京市消防救援总队防火监督处"),
}


def demo_inspectors() -> list[dict[str, Any]]:
    """The ``inspectors:`` section of the demo configuration."""
    return [{"id": key, "name": name, "agency": agency, "unit": unit}
            for key, (name, agency, unit) in DEMO_INSPECTORS.items()]
