"""Agora's domains and the documented failover order. Pure: no I/O.

Agora's guidance ("Switch the domain name"): retry the same primary domain, then the other primary domain
(``api.agora.io`` <-> ``api.sd-rtn.com``), then the region domain adjacent to yours; skip the alternate primary when
the failure is a network problem rather than a DNS failure.
"""

from __future__ import annotations

from agora_recording._errors import InvalidRequestError

__all__ = ["ADJACENT_REGION", "PRIMARY_DOMAINS", "REGIONS", "check_primary", "check_region", "failover_host"]

PRIMARY_DOMAINS = ("api.agora.io", "api.sd-rtn.com")
REGIONS = (
    "us-west-1",
    "us-east-1",
    "ap-southeast-1",
    "ap-northeast-1",
    "eu-west-1",
    "eu-central-1",
    "cn-east-1",
    "cn-north-1",
)
ADJACENT_REGION = {
    "us-west-1": "us-east-1",
    "us-east-1": "us-west-1",
    "ap-southeast-1": "ap-northeast-1",
    "ap-northeast-1": "ap-southeast-1",
    "eu-west-1": "eu-central-1",
    "eu-central-1": "eu-west-1",
    "cn-east-1": "cn-north-1",
    "cn-north-1": "cn-east-1",
}


def check_primary(domain: str) -> str:
    if domain not in PRIMARY_DOMAINS:
        raise InvalidRequestError("primary_domain", f"must be one of {', '.join(PRIMARY_DOMAINS)}, got {domain!r}")
    return domain


def check_region(region: str | None) -> str | None:
    if region is not None and region not in ADJACENT_REGION:
        raise InvalidRequestError("failover_region", f"must be one of {', '.join(REGIONS)}, got {region!r}")
    return region


def _alternate(primary: str) -> str:
    return PRIMARY_DOMAINS[1] if primary == PRIMARY_DOMAINS[0] else PRIMARY_DOMAINS[0]


def failover_order(primary: str, region: str | None, *, dns_failure: bool) -> tuple[str, ...]:
    """The hosts to try, in order, after transport failures: same, same, alternate (DNS only), adjacent region."""
    order = [primary, primary]
    if dns_failure:
        order.append(_alternate(primary))
    if region is not None:
        suffix = primary.removeprefix("api.")
        adjacent = ADJACENT_REGION[region]
        order.append(f"api-{adjacent}.{suffix}")
        order.append(f"api-{adjacent}.{_alternate(primary).removeprefix('api.')}")
    return tuple(order)


def failover_host(primary: str, region: str | None, *, transport_failures: int, dns_failure: bool) -> str:
    """The host for the next attempt after ``transport_failures`` consecutive transport failures.

    0 failures: the primary. Then Agora's order; past its end, the last host of the order is kept.
    """
    order = failover_order(primary, region, dns_failure=dns_failure)
    return order[min(transport_failures, len(order) - 1)]
