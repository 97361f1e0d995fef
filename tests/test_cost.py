"""make cost: every type in every plan is priced or deliberately free, every price the plans need
is in the file for their region, prod agrees with a hand-written bill of materials, and the
what-if levers (--swap, --set) change what they say."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import STACKS
from tools import cost
from tools.cost import (
    FREE_TYPES,
    USAGE,
    PriceBook,
    Pricer,
    UnpricedError,
    WhatIfError,
    estimate,
    swap_instance_types,
    with_settings,
)
from tools.stackconfig import load_stack_config
from tools.synth import ROOT, Plan, PlannedResource

REGIONS = {"us-east-1", "us-west-2", "eu-west-1"}
HOURS = 730
# The Graviton types the levers in docs/cost.md swap in (m6i -> m7g, c6i -> c7g).
GRAVITON = ["m7g.xlarge", "m7g.2xlarge", "c7g.xlarge", "c7g.2xlarge", "r7g.large", "r7g.xlarge"]


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook.load()


@pytest.fixture(scope="module")
def prices() -> dict[tuple[str, str], float]:
    raw = json.loads(cost.PRICES_FILE.read_text())
    return {(e["item"], e["region"]): float(e["price"]) for e in raw["prices"]}


def test_every_type_in_every_plan_is_priced_usage_priced_or_free(
    plan_of: Callable[[str], Plan], book: PriceBook
) -> None:
    unknown: set[str] = set()
    for stack in STACKS:
        plan = plan_of(stack)
        known = set(Pricer(plan, "us-east-1", "desired", book).pricers()) | set(USAGE)
        known |= set(FREE_TYPES)
        for resource in plan.resources:
            component = not resource.custom and not resource.remote
            provider = resource.type.startswith("pulumi:providers:")
            if not component and not provider and resource.type not in known:
                unknown.add(resource.type)
    assert unknown == set()


def test_every_price_names_region_unit_source_date_and_whether_it_was_verified() -> None:
    raw = json.loads(cost.PRICES_FILE.read_text())
    seen: set[tuple[str, str]] = set()
    for entry in raw["prices"]:
        assert entry["region"] in REGIONS, entry
        assert entry["unit"] and entry["date"] and entry["evidence"], entry
        assert entry["source"].startswith("https://"), entry
        assert isinstance(entry["verified"], bool), entry
        assert entry["price"] > 0, entry
        assert (entry["item"], entry["region"]) not in seen, entry
        seen.add((entry["item"], entry["region"]))


@pytest.mark.parametrize("stack", STACKS)
def test_cost_computes_at_min_desired_and_max(
    plan_of: Callable[[str], Plan], book: PriceBook, stack: str
) -> None:
    """Raises UnpricedError, naming each, for any type or (item, region) the file lacks."""
    totals = [estimate(plan_of(stack), at, book).total for at in ("min", "desired", "max")]
    assert 0 < totals[0] <= totals[1] < totals[2]


def test_a_price_missing_from_the_file_fails_naming_it(
    plan_of: Callable[[str], Plan], book: PriceBook
) -> None:
    without = {k: v for k, v in book.prices.items() if k != ("msk/kafka.m7g.large", "eu-west-1")}
    thin = PriceBook(without, book.spot_discounts, book.hours_per_month)
    with pytest.raises(UnpricedError) as failure:
        estimate(plan_of("prod-eu-west-1"), "desired", thin)
    assert failure.value.missing == ["msk/kafka.m7g.large in eu-west-1"]


@pytest.mark.parametrize("instance_type", GRAVITON)
def test_graviton_types_are_priced_in_every_region(book: PriceBook, instance_type: str) -> None:
    for region in REGIONS:
        assert (f"ec2/{instance_type}", region) in book.prices
    assert instance_type.split(".", maxsplit=1)[0] in book.spot_discounts


def test_prod_total_agrees_with_a_hand_written_bill_of_materials(
    plan_of: Callable[[str], Plan], book: PriceBook, prices: dict[tuple[str, str], float]
) -> None:
    """prod as the seed (Appendix A/B) and Pulumi.prod.yaml describe it, counted by hand and
    priced straight from the price file: no code of tools/cost.py is involved."""

    def p(item: str) -> float:
        return prices[(item, "us-east-1")]

    spot = 1 - 0.6
    nodes_hourly = (
        3 * p("ec2/m6i.xlarge")  # system
        + 3 * p("ec2/c6i.2xlarge")  # api-gateway
        + 3 * p("ec2/m6i.2xlarge")  # agent-factory
        + (4 + 6 * spot) * p("ec2/c6i.xlarge")  # agent-runtime: 10 nodes, 60 % spot
        + (1 + 4 * spot) * p("ec2/m6i.xlarge")  # worker: 5 nodes, 80 % spot
    )
    node_count = 3 + 3 + 3 + 10 + 5
    bill = {
        "eks": HOURS * p("eks/cluster-standard-support"),
        "nodes": HOURS * nodes_hourly + node_count * 100 * p("ebs/gp3"),
        # One NAT gateway and its Elastic IP per zone, ten interface endpoints in three zones.
        "network": HOURS * (3 * p("vpc/nat-gateway") + 3 * p("vpc/public-ipv4"))
        + HOURS * 10 * 3 * p("vpc/interface-endpoint"),
        # Writer Multi-AZ with 500 GB gp3, three Single-AZ readers holding the same 500 GB.
        "postgres": HOURS * p("rds/postgres/db.r6g.2xlarge/multi-az")
        + 500 * p("rds/gp3/multi-az")
        + 3 * (HOURS * p("rds/postgres/db.r6g.xlarge/single-az") + 500 * p("rds/gp3/single-az")),
        "cache": HOURS * 6 * p("elasticache/valkey/cache.r7g.large"),  # 3 shards x 2
        "kafka": HOURS * 3 * p("msk/kafka.m7g.large") + 3 * 1000 * p("msk/storage"),
        "opensearch": HOURS * 3 * p("opensearch/r7g.large.search") + 3 * 500 * p("opensearch/gp3"),
        "keys_secrets_dns": 7 * p("kms/key")
        + 5 * p("secretsmanager/secret")
        + p("route53/hosted-zone")
        + p("route53/health-check-aws-endpoint")
        + 3 * p("route53/health-check-optional-feature"),
        "ingress": HOURS * (p("elb/nlb") + 3 * p("vpc/public-ipv4")),
        "prometheus": 2 * 100 * p("ebs/gp3"),
        "alarms": 48 * p("cloudwatch/alarm-standard"),
    }
    by_hand = sum(bill.values())

    result = estimate(plan_of("prod"), "desired", book)
    components = result.by_component()
    assert result.total == pytest.approx(by_hand, rel=0.05)
    # The big blocks must match to the cent: a line lost there would hide inside 5 %.
    assert components["NodePools prod-nodes"] == pytest.approx(bill["nodes"], abs=0.01)
    assert components["DataStores prod-data"] == pytest.approx(
        bill["postgres"] + bill["cache"] + bill["kafka"] + 3 * p("secretsmanager/secret"),
        abs=0.01,
    )
    assert components["Network prod-network"] == pytest.approx(bill["network"], abs=0.01)


def test_spot_group_is_priced_at_its_first_type_with_the_family_discount(
    plan_of: Callable[[str], Plan], book: PriceBook
) -> None:
    result = estimate(plan_of("prod"), "max", book)
    line = next(
        line
        for line in result.lines
        if line.resource == "prod-nodes-agent-runtime-spot" and line.item.startswith("ec2/")
    )
    assert line.item == "ec2/c6i.xlarge"
    assert line.quantity == 60 * HOURS
    assert line.unit_price == pytest.approx(0.17 * 0.4)
    assert not line.verified  # the discount is an assumption


def test_swap_prices_the_graviton_lever_from_the_file(
    plan_of: Callable[[str], Plan], book: PriceBook, prices: dict[tuple[str, str], float]
) -> None:
    plan = plan_of("prod")
    swapped = swap_instance_types(plan, {"m6i.2xlarge": "m7g.2xlarge"})
    saving = estimate(plan, "desired", book).total - estimate(swapped, "desired", book).total
    # agent-factory: 3 on-demand nodes.
    per_hour = prices[("ec2/m6i.2xlarge", "us-east-1")] - prices[("ec2/m7g.2xlarge", "us-east-1")]
    assert saving == pytest.approx(3 * HOURS * per_hour)
    assert plan.by_type(cost.NODE_GROUP)[0].inputs["instanceTypes"][0] != "m7g.2xlarge"
    with pytest.raises(WhatIfError, match=r"no node group of prod runs r5\.large"):
        swap_instance_types(plan, {"r5.large": "r7g.large"})


def test_set_merges_into_the_stack_value_instead_of_replacing_it() -> None:
    config = load_stack_config(ROOT, "dev")
    merged = with_settings(config, ['nodePools={"worker":{"spotPercentage":100}}'])
    before = json.loads(config.values["agent-factory:nodePools"])
    after = json.loads(merged.values["agent-factory:nodePools"])
    assert after["worker"]["spotPercentage"] == 100
    assert after["system"] == before["system"]
    assert {k: v for k, v in after["worker"].items() if k != "spotPercentage"} == {
        k: v for k, v in before["worker"].items() if k != "spotPercentage"
    }
    with pytest.raises(WhatIfError, match="not JSON"):
        with_settings(config, ["nodePools={worker"])


def test_a_chart_claiming_volumes_the_tool_does_not_model_fails(book: PriceBook) -> None:
    provider = PlannedResource(
        urn="urn:pulumi:s::p::pulumi:providers:aws::aws",
        type="pulumi:providers:aws",
        name="aws",
        parent="",
        provider="",
        custom=True,
        remote=False,
        protect=False,
        inputs={"region": "us-east-1"},
        dependencies=[],
    )
    release = PlannedResource(
        urn="urn:pulumi:s::p::kubernetes:helm.sh/v3:Release::db",
        type="kubernetes:helm.sh/v3:Release",
        name="db",
        parent="",
        provider="",
        custom=True,
        remote=False,
        protect=False,
        inputs={"chart": "postgresql", "values": {"primary": {"persistence": {"size": "8Gi"}}}},
        dependencies=[],
    )
    with pytest.raises(UnpricedError) as failure:
        estimate(Plan("s", "p", [provider, release], {}), "desired", book)
    assert failure.value.missing == ["volumes of chart postgresql at primary.persistence"]


def test_cli_writes_json(
    plan_of: Callable[[str], Plan], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(cost, "synth", lambda stack, root=ROOT: plan_of(stack))
    out = tmp_path / "dev.json"
    assert cost.main(["dev", "--at", "min", "--json", str(out)]) == cost.EXIT_OK
    data = json.loads(out.read_text())
    assert (data["stack"], data["region"], data["at"]) == ("dev", "us-east-1", "min")
    assert data["total_monthly"] == pytest.approx(sum(data["components"].values()), abs=0.05)
    assert "eks/cluster-standard-support" not in data["unverified_prices"]
    assert "ebs/gp3" not in data["unverified_prices"]  # verified in us-east-1
    assert "opensearch/gp3" in data["unverified_prices"]
    assert data["what_if"] == []
    assert cost.main(["dev", "--swap", "m6i.large"]) == cost.EXIT_USAGE
