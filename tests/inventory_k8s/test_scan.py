"""Scanning TLS Secrets: selection, facts, annotations and problems."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization

from certrenew.config import Settings
from certrenew.errors import InventoryError
from certrenew.inventory.entry import Entry, Problem
from tests.inventory_k8s.conftest import SmallCA, SourceFactory
from tests.support.kubernetes_api import KubernetesApiServer, tls_secret

MANAGED = {"certrenew.io/managed": "true"}


def _seed(
    api: KubernetesApiServer,
    ca: SmallCA,
    namespace: str,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> None:
    issued = ca.issue(f"{name}.example.com")
    api.put_secret(
        tls_secret(
            namespace,
            name,
            issued.chain_pem,
            issued.key_pem,
            labels=MANAGED if labels is None else labels,
            annotations=annotations,
        )
    )


def _entries(results: list[Entry | Problem]) -> dict[str, Entry]:
    return {r.name: r for r in results if isinstance(r, Entry)}


def _problems(results: list[Entry | Problem]) -> dict[str, str]:
    return {r.location: r.error for r in results if isinstance(r, Problem)}


def test_the_scan_yields_the_labelled_tls_secrets_of_every_namespace(
    api: KubernetesApiServer, ca: SmallCA, make_source: SourceFactory
) -> None:
    _seed(api, ca, "web", "shop")
    _seed(api, ca, "payments", "checkout")
    _seed(api, ca, "web", "unmanaged", labels={})
    _seed(api, ca, "web", "opted-out", labels={"certrenew.io/managed": "false"})
    _seed(api, ca, "elsewhere", "other")
    issued = ca.issue("opaque.example.com")
    api.put_secret(
        tls_secret(
            "web",
            "opaque",
            issued.chain_pem,
            issued.key_pem,
            labels=MANAGED,
            secret_type="Opaque",
        )
    )

    source = make_source(("web", "payments"))
    results = list(source.scan())

    assert source.label == "kubernetes:web,payments"
    assert sorted(_entries(results)) == ["payments/checkout", "web/shop"]
    assert _problems(results) == {}


def test_a_scan_pages_through_long_lists(
    api: KubernetesApiServer, ca: SmallCA, make_source: SourceFactory
) -> None:
    for number in range(5):
        _seed(api, ca, "web", f"site-{number}")

    results = list(make_source(page_size=2).scan())

    assert sorted(_entries(results)) == [f"web/site-{n}" for n in range(5)]
    assert [r.verb for r in api.requests].count("list") == 3


def test_selectors_combine_labels_and_an_annotation(
    api: KubernetesApiServer, ca: SmallCA, make_source: SourceFactory
) -> None:
    team = {"certrenew.io/managed": "true", "tier": "edge"}
    _seed(api, ca, "web", "edge-opted-in", labels=team, annotations={"renew/me": ""})
    _seed(api, ca, "web", "edge-no-annotation", labels=team)
    _seed(api, ca, "web", "core", labels={**team, "tier": "core"})
    _seed(api, ca, "web", "unlabelled", labels={}, annotations={"renew/me": ""})

    source = make_source(
        label_selector="certrenew.io/managed=true,tier!=core", annotation="renew/me"
    )

    assert sorted(_entries(list(source.scan()))) == ["web/edge-opted-in"]


def test_the_entry_facts_are_read_from_the_leaf(
    api: KubernetesApiServer, ca: SmallCA, make_source: SourceFactory
) -> None:
    issued = ca.issue("shop.example.com", days=90)
    api.put_secret(
        tls_secret("web", "shop", issued.chain_pem, issued.key_pem, labels=MANAGED)
    )

    (entry,) = make_source().scan()

    assert isinstance(entry, Entry)
    der = issued.certificate.public_bytes(serialization.Encoding.DER)
    assert entry.facts.thumbprint == hashlib.sha1(der).hexdigest().upper()  # noqa: S324 - the thumbprint is SHA-1 by definition
    assert entry.facts.common_name == "shop.example.com"
    assert entry.facts.dns_names == ("shop.example.com", "www.shop.example.com")
    assert (entry.facts.key_type, entry.facts.key_size) == ("ec", 256)
    assert entry.facts.issuer == "CN=certrenew test intermediate"
    assert entry.facts.not_after == issued.certificate.not_valid_after_utc
    assert entry.facts.serial_number == f"{issued.certificate.serial_number:X}"
    assert (entry.location, entry.key_location) == (
        "web/shop:tls.crt",
        "web/shop:tls.key",
    )
    assert entry.source == "kubernetes:web"


def test_annotations_set_order_policy_and_labels_over_the_defaults(
    api: KubernetesApiServer, ca: SmallCA, make_source: SourceFactory
) -> None:
    _seed(
        api,
        ca,
        "web",
        "shop",
        annotations={
            "certrenew.io/order.organization_id": "112233",
            "certrenew.io/order.product": "ssl_securesite_flex",
            "certrenew.io/order.skip_approval": "false",
            "certrenew.io/order.additional_emails": '["ops@example.com"]',
            "certrenew.io/policy.floor_days": "45",
            "certrenew.io/label.team": "payments",
        },
    )
    settings = Settings.model_validate(
        {
            "order": {"organization_id": 1, "comments": "from the defaults"},
            "overrides": {"web/shop": {"policy": {"spread_hours": 2}}},
        }
    )

    (entry,) = make_source(settings=settings).scan()

    assert isinstance(entry, Entry)
    assert entry.order.organization_id == 112233
    assert entry.order.product == "ssl_securesite_flex"
    assert entry.order.skip_approval is False
    assert entry.order.additional_emails == ["ops@example.com"]
    assert entry.order.comments == "from the defaults"
    assert entry.policy.floor_days == 45
    assert entry.policy.spread_hours == 2
    assert entry.labels == {"team": "payments"}


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        (
            {"certrenew.io/order.organization_id": "acme"},
            "web/bad: annotation certrenew.io/order.organization_id: Input should "
            "be a valid integer, unable to parse string as an integer "
            "(given: 'acme')",
        ),
        (
            {"certrenew.io/order.organisation_id": "112233"},
            "web/bad: annotation certrenew.io/order.organisation_id: unknown "
            "setting (check its spelling) (given: '112233')",
        ),
        (
            {"certrenew.io/policy.renew_fraction": "2"},
            "web/bad: annotation certrenew.io/policy.renew_fraction: Input should "
            "be less than 1 (given: '2')",
        ),
        (
            {"certrenew.io/order.payment_method": "card"},
            "web/bad: annotation certrenew.io/order.payment_method: 'card' is refused",
        ),
        (
            {"certrenew.io/ordr.product": "x"},
            "web/bad: annotation certrenew.io/ordr.product: unknown certrenew "
            "annotation; use certrenew.io/order.<field>, "
            "certrenew.io/policy.<field> or certrenew.io/label.<name>",
        ),
    ],
)
def test_a_bad_annotation_is_a_problem_naming_the_secret_and_the_rule(
    api: KubernetesApiServer,
    ca: SmallCA,
    make_source: SourceFactory,
    annotations: dict[str, str],
    message: str,
) -> None:
    _seed(api, ca, "web", "bad", annotations=annotations)
    _seed(api, ca, "web", "good")

    results = list(make_source().scan())

    assert sorted(_entries(results)) == ["web/good"]
    assert _problems(results)["web/bad"].startswith(message)


def test_a_bad_override_in_the_settings_is_named_as_such(
    api: KubernetesApiServer, ca: SmallCA, make_source: SourceFactory
) -> None:
    _seed(api, ca, "web", "shop")
    settings = Settings.model_validate(
        {"overrides": {"web/shop": {"order": {"order_validity_years": 9}}}}
    )

    results = list(make_source(settings=settings).scan())

    assert _problems(results) == {
        "web/shop": "web/shop: [overrides.'web/shop'.order] order_validity_years: "
        "Input should be less than or equal to 3 (given: 9)"
    }


def test_a_wrong_key_or_a_broken_certificate_is_a_problem_while_others_scan(
    api: KubernetesApiServer, ca: SmallCA, make_source: SourceFactory
) -> None:
    first, second = ca.issue("a.example.com"), ca.issue("b.example.com")
    api.put_secret(
        tls_secret("web", "wrong-key", first.chain_pem, second.key_pem, labels=MANAGED)
    )
    api.put_secret(
        tls_secret("web", "broken", b"not a certificate", first.key_pem, labels=MANAGED)
    )
    chain_first = ca.intermediate.public_bytes(serialization.Encoding.PEM)
    api.put_secret(
        tls_secret(
            "web",
            "ca-first",
            chain_first + first.chain_pem,
            first.key_pem,
            labels=MANAGED,
        )
    )
    _seed(api, ca, "web", "good")

    problems = _problems(list(make_source().scan()))
    thumbprint = (
        hashlib.sha1(  # noqa: S324 - the thumbprint is SHA-1 by definition
            first.certificate.public_bytes(serialization.Encoding.DER)
        )
        .hexdigest()
        .upper()
    )

    assert problems == {
        "web/wrong-key": "web/wrong-key: tls.key: key does not match the "
        f"certificate in tls.crt (thumbprint {thumbprint}): the public keys differ",
        "web/broken": problems["web/broken"],
        "web/ca-first": "web/ca-first: tls.crt: the first certificate is a CA "
        "certificate; it must be the leaf, followed by its chain",
    }
    assert problems["web/broken"].startswith(
        "web/broken: tls.crt: not a PEM file: no '-----BEGIN CERTIFICATE-----' line"
    )


def test_a_secret_whose_key_is_not_pem_is_a_problem(
    api: KubernetesApiServer, ca: SmallCA, make_source: SourceFactory
) -> None:
    issued = ca.issue("shop.example.com")
    secret = tls_secret("web", "shop", issued.chain_pem, b"garbage", labels=MANAGED)
    api.put_secret(secret)

    (problem,) = make_source().scan()

    assert problem == Problem(
        "kubernetes:web",
        "web/shop",
        "web/shop: tls.key: not a PEM file: no '-----BEGIN PRIVATE KEY-----' line",
    )
    assert base64.b64decode(secret["data"]["tls.key"]) == b"garbage"


def test_a_forbidden_namespace_is_one_problem_and_the_others_are_scanned(
    api: KubernetesApiServer, ca: SmallCA, make_source: SourceFactory
) -> None:
    _seed(api, ca, "web", "shop")
    _seed(api, ca, "payments", "checkout")
    api.allow_only({("list", "web")})

    results = list(make_source(("payments", "web")).scan())

    assert sorted(_entries(results)) == ["web/shop"]
    assert _problems(results) == {
        "namespace payments": "namespace payments: Kubernetes RBAC forbids list "
        "on secrets in namespace payments (403): secrets is forbidden: User "
        '"system:serviceaccount:certrenew:certrenew" cannot list resource '
        '"secrets" in API group "" in the namespace "payments"'
    }


def test_load_reads_one_secret_afresh(
    api: KubernetesApiServer, ca: SmallCA, make_source: SourceFactory
) -> None:
    _seed(api, ca, "web", "shop", annotations={"certrenew.io/label.team": "a"})
    source = make_source()
    before = source.load("web/shop")

    renewed = ca.issue("shop.example.com")
    api.change_secret(
        "web",
        "shop",
        lambda s: s["data"].update(
            tls_secret("web", "shop", renewed.chain_pem, renewed.key_pem)["data"]
        ),
    )
    after = source.load("web/shop")

    assert before.facts.thumbprint != after.facts.thumbprint
    assert after.facts.serial_number == f"{renewed.certificate.serial_number:X}"
    assert after.labels == {"team": "a"}
    assert api.requests[-1].verb == "get"


def test_load_of_a_missing_or_misnamed_secret_says_what_is_wrong(
    api: KubernetesApiServer, make_source: SourceFactory
) -> None:
    source = make_source()

    with pytest.raises(InventoryError, match=r"^kubernetes:web: no Secret web/gone$"):
        source.load("web/gone")
    with pytest.raises(InventoryError, match="must be NAMESPACE/SECRET_NAME"):
        source.load("just-a-name")
    api.allow_only(set())
    with pytest.raises(
        InventoryError,
        match=r"RBAC forbids get on secrets in namespace web \(403\): secrets "
        r'"shop" is forbidden',
    ):
        source.load("web/shop")
