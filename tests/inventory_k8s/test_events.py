"""Events on a certificate's Secret: by the source, and by a renewal through
the sandbox installing into the stand-in API server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from certrenew.config import InstallSettings
from certrenew.inventory import CertificateEvent
from sandbox import SandboxServer
from tests.inventory_k8s.conftest import Issued, SmallCA, SourceFactory
from tests.support.kubernetes_api import KubernetesApiServer, tls_secret
from tests.support.runtimes import runtime_at_sandbox
from tests.support.seeding import seed_certificate
from tests.support.windows import window_opening_in
from worker.installation import InstallDeferred
from worker.notify import notify_failed
from worker.renewal import RenewalTarget, renew
from worker.runtime import Runtime

MANAGED = {"certrenew.io/managed": "true"}
NOW = datetime.now(UTC)
DUE = (NOW - timedelta(days=80), NOW + timedelta(days=10))
# What the shipped Roles grant (deploy/k8s/overlays/*/inventory-rbac.yaml).
SHIPPED_ROLE = {
    *((verb, "web") for verb in ("get", "list", "create", "update")),
    ("create events", "web"),
}


@pytest.fixture
def live(api: KubernetesApiServer, ca: SmallCA) -> Issued:
    issued = ca.issue("shop.example.com")
    api.put_secret(
        tls_secret("web", "shop", issued.chain_pem, issued.key_pem, labels=MANAGED)
    )
    return issued


def only_event(api: KubernetesApiServer) -> dict[str, Any]:
    (event,) = api.events("web")
    return event


def test_an_event_refers_to_the_secret_by_its_uid(
    api: KubernetesApiServer, live: Issued, make_source: SourceFactory
) -> None:
    api.allow_only(SHIPPED_ROLE)
    secret = api.secret("web", "shop")
    assert secret is not None

    make_source().record_event(
        "web/shop", CertificateEvent("Renewed", "Installed the renewed certificate")
    )

    event = only_event(api)
    assert event["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "Secret",
        "name": "shop",
        "namespace": "web",
        "uid": secret["metadata"]["uid"],
        "resourceVersion": secret["metadata"]["resourceVersion"],
    }
    assert (event["reason"], event["type"]) == ("Renewed", "Normal")
    assert event["message"] == "Installed the renewed certificate"
    assert event["source"] == {"component": "certrenew"}
    assert event["reportingComponent"] == "certrenew.io/certrenew"
    assert event["count"] == 1
    assert event["metadata"]["name"].startswith("shop.")


def test_a_warning_is_a_warning_event_and_a_long_message_is_cut(
    api: KubernetesApiServer, live: Issued, make_source: SourceFactory
) -> None:
    make_source().record_event(
        "web/shop", CertificateEvent("RenewalFailed", "x" * 5000, warning=True)
    )

    event = only_event(api)
    assert event["type"] == "Warning"
    assert len(event["message"]) == 1024


def test_an_event_rbac_refuses_is_logged_and_nothing_breaks(
    api: KubernetesApiServer, live: Issued, make_source: SourceFactory
) -> None:
    api.allow_only({("get", "web")})

    with capture_logs() as logs:
        make_source().record_event("web/shop", CertificateEvent("Renewed", "done"))

    assert api.events("web") == []
    (warning,) = [
        line for line in logs if line["event"] == "kubernetes_event_not_recorded"
    ]
    assert warning["certificate"] == "web/shop"
    assert warning["event_reason"] == "Renewed"
    assert (
        "Kubernetes RBAC forbids create on events in namespace web (403)"
        in (warning["error"])
    )


def test_an_event_about_a_secret_that_is_gone_is_logged_and_dropped(
    api: KubernetesApiServer, make_source: SourceFactory
) -> None:
    with capture_logs() as logs:
        make_source().record_event("web/gone", CertificateEvent("Renewed", "done"))

    assert api.events("web") == []
    assert "no Secret web/gone" in logs[-1]["error"]


@pytest.fixture
def k8s_runtimes(
    sandbox: SandboxServer, tmp_path: Path, make_source: SourceFactory
) -> Iterator[Callable[..., Runtime]]:
    """Runtimes renewing at the sandbox into the stand-in's Secrets, with the
    settings sections given."""
    runtimes: list[Runtime] = []

    def make(**sections: Any) -> Runtime:
        runtime = runtime_at_sandbox(sandbox, tmp_path, **sections)
        source = make_source()
        runtime.sources[source.label] = source
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.close()


@pytest.fixture
def k8s_runtime(k8s_runtimes: Callable[..., Runtime]) -> Runtime:
    return k8s_runtimes()


def seed_secret(
    api: KubernetesApiServer,
    sandbox: SandboxServer,
    folder: Path,
    name: str,
    annotations: dict[str, str] | None = None,
) -> str:
    """A certificate ordered at the sandbox, live in the Secret web/NAME."""
    thumbprint = seed_certificate(
        sandbox, folder, name, common_name=f"{name}.example.com", validity=DUE
    )
    api.put_secret(
        tls_secret(
            "web",
            name,
            (folder / f"{name}.crt").read_bytes(),
            (folder / f"{name}.key").read_bytes(),
            labels=MANAGED,
            annotations=annotations,
        )
    )
    for suffix in (".crt", ".key"):
        (folder / f"{name}{suffix}").unlink()
    return thumbprint


def renew_secret(runtime: Runtime, name: str, thumbprint: str) -> None:
    target = RenewalTarget("kubernetes:web", f"web/{name}", thumbprint)
    runtime.ledger.claim(
        thumbprint, name=target.name, source=target.source_label, due_at=NOW, now=NOW
    )
    renew(runtime, target, now=NOW)


def test_a_renewal_installed_into_a_secret_leaves_a_renewed_event(
    api: KubernetesApiServer,
    sandbox: SandboxServer,
    tmp_path: Path,
    k8s_runtime: Runtime,
) -> None:
    thumbprint = seed_secret(api, sandbox, tmp_path, "shop")

    renew_secret(k8s_runtime, "shop", thumbprint)

    record = k8s_runtime.ledger.get(thumbprint)
    assert record is not None
    assert record.state == "installed"
    event = only_event(api)
    assert event["reason"] == "Renewed"
    assert event["message"] == (
        f"Installed the renewed certificate {record.new_thumbprint}, valid until "
        f"{record.new_not_after:%Y-%m-%d}: renew of DigiCert order {record.order_id}"
    )


def test_a_renewal_waiting_for_its_window_and_one_that_failed_say_so(
    api: KubernetesApiServer,
    sandbox: SandboxServer,
    tmp_path: Path,
    k8s_runtime: Runtime,
) -> None:
    opens, window = window_opening_in(timedelta(hours=3), NOW)
    thumbprint = seed_secret(
        api, sandbox, tmp_path, "shop",
        annotations={"certrenew.io/policy.install_windows": f'["{window}"]'},
    )  # fmt: skip

    with pytest.raises(InstallDeferred):
        renew_secret(k8s_runtime, "shop", thumbprint)
    failed = k8s_runtime.ledger.record_failed(
        thumbprint, code="order_revoked", message="DigiCert revoked order 7", now=NOW
    )
    notify_failed(k8s_runtime, failed, now=NOW)

    deferred, failure = api.events("web")
    assert (deferred["reason"], deferred["type"]) == ("InstallDeferred", "Normal")
    assert f"window opening {opens:%Y-%m-%d %H:%M} UTC" in deferred["message"]
    assert (failure["reason"], failure["type"]) == ("RenewalFailed", "Warning")
    assert failure["message"] == (
        "The renewal failed for good (order_revoked): DigiCert revoked order 7. It "
        f"waits in the dead letters: certrenew dlq show {thumbprint[:12]}"
    )


def test_a_post_install_command_that_fails_is_a_warning_after_the_renewal(
    api: KubernetesApiServer,
    sandbox: SandboxServer,
    tmp_path: Path,
    k8s_runtimes: Callable[..., Runtime],
) -> None:
    runtime = k8s_runtimes(install=InstallSettings(post_install_command=["false"]))
    thumbprint = seed_secret(api, sandbox, tmp_path, "shop")

    renew_secret(runtime, "shop", thumbprint)

    record = runtime.ledger.get(thumbprint)
    assert record is not None
    renewed, hook = api.events("web")
    assert renewed["reason"] == "Renewed"
    assert (hook["reason"], hook["type"]) == ("PostInstallCommandFailed", "Warning")
    assert hook["message"] == (
        f"The renewed certificate {record.new_thumbprint} is installed, but the "
        "post-install command exited with status 1; its output is in the log"
    )
