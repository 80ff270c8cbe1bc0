"""Writing: the pending key's Secret, installation, the previous pair, 409s."""

from __future__ import annotations

import pytest

from certrenew.config import Settings
from certrenew.errors import InventoryError
from certrenew.inventory.entry import Entry
from certrenew.inventory.kubernetes import SecretChangedError
from tests.inventory_k8s.conftest import Issued, SmallCA, SourceFactory
from tests.support.kubernetes_api import (
    KubernetesApiServer,
    Request,
    Secret,
    decoded,
    tls_secret,
)

MANAGED = {"certrenew.io/managed": "true"}
# What the shipped Roles grant (deploy/k8s/overlays/*/inventory-rbac.yaml),
# as the verbs this stand-in serves: no delete.
SHIPPED_ROLE = {(verb, "web") for verb in ("get", "list", "create", "update")}


@pytest.fixture
def live(api: KubernetesApiServer, ca: SmallCA) -> Issued:
    issued = ca.issue("shop.example.com")
    api.put_secret(
        tls_secret(
            "web",
            "shop",
            issued.chain_pem,
            issued.key_pem,
            labels=MANAGED,
            annotations={"certrenew.io/label.team": "web"},
        )
    )
    return issued


def _stored(api: KubernetesApiServer, name: str) -> Secret:
    secret = api.secret("web", name)
    assert secret is not None, f"no Secret web/{name}"
    return secret


def test_the_pending_key_is_stored_in_its_own_secret_owned_by_the_certificate(
    api: KubernetesApiServer, live: Issued, make_source: SourceFactory
) -> None:
    source = make_source()

    location = source.store_pending_key("web/shop", b"next key")

    pending = _stored(api, "shop-certrenew-pending")
    owner = _stored(api, "shop")
    assert location == "web/shop-certrenew-pending:tls.key"
    assert pending["type"] == "Opaque"
    assert decoded(pending, "tls.key") == b"next key"
    assert pending["metadata"]["labels"] == {"certrenew.io/pending-for": "shop"}
    assert pending["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "name": "shop",
            "uid": owner["metadata"]["uid"],
        }
    ]
    assert api.writes() == [Request("create", "web", "shop-certrenew-pending")]
    assert decoded(owner, "tls.key") == live.key_pem
    assert source.load_pending_key("web/shop") == b"next key"


def test_storing_a_pending_key_again_replaces_the_first(
    api: KubernetesApiServer, live: Issued, make_source: SourceFactory
) -> None:
    source = make_source()

    source.store_pending_key("web/shop", b"first")
    source.store_pending_key("web/shop", b"second")

    assert source.load_pending_key("web/shop") == b"second"
    assert [w.verb for w in api.writes()] == ["create", "create", "update"]


def test_a_foreign_secret_with_the_pending_name_is_never_overwritten(
    api: KubernetesApiServer, live: Issued, make_source: SourceFactory
) -> None:
    api.put_secret(
        {
            "metadata": {"namespace": "web", "name": "shop-certrenew-pending"},
            "data": {"password": "aHVudGVyMg=="},
        }
    )

    with pytest.raises(
        InventoryError,
        match=r"^web/shop-certrenew-pending: a Secret of that name exists and is "
        r"not certrenew's \(annotation certrenew.io/pending-for is not 'web/shop'\)",
    ):
        make_source().store_pending_key("web/shop", b"next key")
    assert _stored(api, "shop-certrenew-pending")["data"] == {
        "password": "aHVudGVyMg=="
    }


def test_no_pending_key_is_none(
    api: KubernetesApiServer, live: Issued, make_source: SourceFactory
) -> None:
    assert make_source().load_pending_key("web/shop") is None


def test_install_writes_the_pair_in_one_write_and_keeps_the_previous_pair(
    api: KubernetesApiServer, ca: SmallCA, live: Issued, make_source: SourceFactory
) -> None:
    source = make_source()
    renewed = ca.issue("shop.example.com")
    source.store_pending_key("web/shop", renewed.key_pem)
    read_version = _stored(api, "shop")["metadata"]["resourceVersion"]
    api.requests.clear()

    installed = source.install("web/shop", renewed.chain_pem, renewed.key_pem)

    secret = _stored(api, "shop")
    previous = _stored(api, "shop-certrenew-previous")
    assert decoded(secret, "tls.crt") == renewed.chain_pem
    assert decoded(secret, "tls.key") == renewed.key_pem
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"]["labels"] == MANAGED
    assert secret["metadata"]["annotations"] == {"certrenew.io/label.team": "web"}
    assert int(secret["metadata"]["resourceVersion"]) > int(read_version)
    assert decoded(previous, "tls.crt") == live.chain_pem
    assert decoded(previous, "tls.key") == live.key_pem
    assert previous["metadata"]["annotations"]["certrenew.io/previous-of"] == "web/shop"
    assert (
        previous["metadata"]["ownerReferences"][0]["uid"] == (secret["metadata"]["uid"])
    )
    assert api.writes() == [
        Request("create", "web", "shop-certrenew-previous"),
        Request("update", "web", "shop"),
        Request("delete", "web", "shop-certrenew-pending"),
    ]
    assert api.secret("web", "shop-certrenew-pending") is None
    assert installed.certificate_location == "web/shop:tls.crt"
    assert installed.previous_key_location == "web/shop-certrenew-previous:tls.key"

    entry = source.load("web/shop")
    assert isinstance(entry, Entry)
    assert entry.facts.serial_number == f"{renewed.certificate.serial_number:X}"


def test_a_second_install_replaces_the_previous_pair(
    api: KubernetesApiServer, ca: SmallCA, live: Issued, make_source: SourceFactory
) -> None:
    source = make_source()
    second, third = ca.issue("shop.example.com"), ca.issue("shop.example.com")

    source.install("web/shop", second.chain_pem, second.key_pem)
    source.install("web/shop", third.chain_pem, third.key_pem)

    assert decoded(_stored(api, "shop-certrenew-previous"), "tls.crt") == (
        second.chain_pem
    )
    assert decoded(_stored(api, "shop"), "tls.crt") == third.chain_pem


def test_under_the_shipped_role_the_pending_secret_is_emptied_not_deleted(
    api: KubernetesApiServer, ca: SmallCA, live: Issued, make_source: SourceFactory
) -> None:
    source = make_source()
    renewed = ca.issue("shop.example.com")
    source.store_pending_key("web/shop", renewed.key_pem)
    api.allow_only(SHIPPED_ROLE)

    source.install("web/shop", renewed.chain_pem, renewed.key_pem)

    pending = _stored(api, "shop-certrenew-pending")
    assert pending.get("data") in (None, {})
    assert "certrenew.io/cleared" in pending["metadata"]["annotations"]
    assert source.load_pending_key("web/shop") is None
    assert decoded(_stored(api, "shop"), "tls.key") == renewed.key_pem


def test_a_retried_install_of_the_live_pair_keeps_the_true_previous_pair(
    api: KubernetesApiServer, ca: SmallCA, live: Issued, make_source: SourceFactory
) -> None:
    source = make_source()
    renewed = ca.issue("shop.example.com")
    source.install("web/shop", renewed.chain_pem, renewed.key_pem)
    api.requests.clear()

    source.install("web/shop", renewed.chain_pem, renewed.key_pem)

    assert decoded(_stored(api, "shop-certrenew-previous"), "tls.crt") == (
        live.chain_pem
    )
    assert [w.verb for w in api.writes()] == ["delete"]


def test_keep_previous_zero_keeps_no_previous_secret(
    api: KubernetesApiServer, ca: SmallCA, live: Issued, make_source: SourceFactory
) -> None:
    source = make_source(
        settings=Settings.model_validate({"install": {"keep_previous": 0}})
    )
    renewed = ca.issue("shop.example.com")

    installed = source.install("web/shop", renewed.chain_pem, renewed.key_pem)

    assert api.secret("web", "shop-certrenew-previous") is None
    assert installed.previous_certificate_location is None


def test_a_change_between_read_and_write_is_a_conflict_and_is_not_overwritten(
    api: KubernetesApiServer, ca: SmallCA, live: Issued, make_source: SourceFactory
) -> None:
    source = make_source()
    renewed = ca.issue("shop.example.com")
    source.store_pending_key("web/shop", renewed.key_pem)
    theirs = ca.issue("shop.example.com")
    read_version = _stored(api, "shop")["metadata"]["resourceVersion"]

    def someone_else_installs() -> None:
        ours = tls_secret("web", "shop", theirs.chain_pem, theirs.key_pem)["data"]
        api.change_secret("web", "shop", lambda s: s["data"].update(ours))

    api.before_next("update", "web", "shop", someone_else_installs)

    with pytest.raises(SecretChangedError) as raised:
        source.install("web/shop", renewed.chain_pem, renewed.key_pem)

    assert str(raised.value) == (
        "web/shop: cannot install: someone else changed the Secret after "
        f"certrenew read it (resourceVersion {read_version}); nothing was "
        "overwritten. Check the Secret's tls.crt and tls.key, then retry the "
        "install."
    )
    assert "409" in str(raised.value.__cause__)
    secret = _stored(api, "shop")
    assert decoded(secret, "tls.crt") == theirs.chain_pem
    assert decoded(secret, "tls.key") == theirs.key_pem
    assert source.load_pending_key("web/shop") == renewed.key_pem


def test_install_refuses_a_certificate_that_is_not_for_the_key(
    api: KubernetesApiServer, ca: SmallCA, live: Issued, make_source: SourceFactory
) -> None:
    renewed, other = ca.issue("shop.example.com"), ca.issue("shop.example.com")
    api.requests.clear()

    with pytest.raises(
        InventoryError,
        match=r"^web/shop: cannot install: the issued certificate does not match "
        r"the new key; nothing was changed$",
    ):
        make_source().install("web/shop", renewed.chain_pem, other.key_pem)
    assert api.requests == []


def test_install_forbidden_by_rbac_says_which_verb_and_namespace(
    api: KubernetesApiServer, ca: SmallCA, live: Issued, make_source: SourceFactory
) -> None:
    renewed = ca.issue("shop.example.com")
    api.allow_only({("get", "web"), ("create", "web")})

    with pytest.raises(
        InventoryError,
        match=r"^web/shop: Kubernetes RBAC forbids update on secrets in namespace "
        r'web \(403\): secrets "shop" is forbidden: User '
        r'"system:serviceaccount:certrenew:certrenew" cannot update',
    ):
        make_source().install("web/shop", renewed.chain_pem, renewed.key_pem)
    assert decoded(_stored(api, "shop"), "tls.crt") == live.chain_pem
