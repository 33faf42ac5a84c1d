"""GraphQL enums of the graph, with the Chinese terms the domain uses."""

from __future__ import annotations

import enum

import strawberry

from connectors.standard import Openness, RiskLevel

__all__ = ["EnterpriseStatus", "LicenceStatus", "Openness", "PenaltyType", "RiskLevel"]

# The connectors' enums are the graph's enums: registering them adds GraphQL metadata.
strawberry.enum(
    Openness,
    name="Openness",
    description=(
        "Openness label set by the owner agency (谁拥有，谁标注): NOT_OPEN 暂不开放, "
        "CONDITIONAL 有条件开放, OPEN 完全开放."
    ),
)

strawberry.enum(
    RiskLevel,
    name="RiskLevel",
    description="Risk level set by the owner agency (谁拥有，谁定级): LOW 低, MEDIUM 中, HIGH 高.",
)


@strawberry.enum(description="Registration status of an enterprise (登记状态).")
class EnterpriseStatus(enum.Enum):
    ACTIVE = "ACTIVE"  # 存续
    REVOKED = "REVOKED"  # 吊销
    CANCELLED = "CANCELLED"  # 注销
    MOVED_OUT = "MOVED_OUT"  # 迁出


@strawberry.enum(description="Status of a licence (许可状态).")
class LicenceStatus(enum.Enum):
    VALID = "VALID"  # 有效
    SUSPENDED = "SUSPENDED"  # 暂扣
    REVOKED = "REVOKED"  # 吊销
    EXPIRED = "EXPIRED"  # 过期


@strawberry.enum(description="Kind of administrative penalty (处罚种类).")
class PenaltyType(enum.Enum):
    WARNING = "WARNING"  # 警告
    CRITICISM = "CRITICISM"  # 通报批评
    FINE = "FINE"  # 罚款
    CONFISCATION = "CONFISCATION"  # 没收违法所得、没收非法财物
    LICENCE_SUSPENSION = "LICENCE_SUSPENSION"  # 暂扣许可证件
    LICENCE_REVOCATION = "LICENCE_REVOCATION"  # 吊销许可证件
    PRODUCTION_SUSPENSION = "PRODUCTION_SUSPENSION"  # 责令停产停业
    CLOSURE = "CLOSURE"  # 责令关闭
    DETENTION = "DETENTION"  # 行政拘留
