"""Kubernetes Events on a certificate's Secret: what certrenew did to it.

``kubectl describe secret NS/NAME`` and ``kubectl get events`` show them, as
cert-manager's users are used to seeing on their Certificates: a renewal
installed, waiting for its install window, failed for good, or pending at
DigiCert for too long. They are core/v1 Events that refer to the Secret by
its uid, so they are listed with it and expire with the cluster's event TTL.
"""

from __future__ import annotations

import socket
import time
from datetime import datetime

from kubernetes import client as k8s

from certrenew.inventory.entry import CertificateEvent
from certrenew.inventory.kubernetes.secrets import SecretView

# Who reports the events (core/v1 ``source.component`` and
# ``reportingComponent``, which must be a qualified name).
REPORTING_COMPONENT = "certrenew.io/certrenew"
SOURCE_COMPONENT = "certrenew"
# Object names are at most 253 characters; an event's is the Secret's name,
# a dot and a unique suffix of 16 hex digits.
MAX_NAME_LENGTH = 253
# Kubernetes refuses longer event messages from the events.k8s.io API; the
# core API takes them, but kubectl's columns would not show the rest anyway.
MAX_MESSAGE_LENGTH = 1024


def event_body(
    secret: SecretView, event: CertificateEvent, *, now: datetime
) -> k8s.CoreV1Event:
    """The Event that tells ``event`` about ``secret``, happening at ``now``."""
    suffix = f".{time.time_ns():016x}"
    name = secret.name[: MAX_NAME_LENGTH - len(suffix)] + suffix
    return k8s.CoreV1Event(
        metadata=k8s.V1ObjectMeta(name=name, namespace=secret.namespace),
        involved_object=k8s.V1ObjectReference(
            api_version="v1",
            kind="Secret",
            name=secret.name,
            namespace=secret.namespace,
            uid=secret.uid,
            resource_version=secret.resource_version,
        ),
        reason=event.reason,
        message=event.message[:MAX_MESSAGE_LENGTH],
        type="Warning" if event.warning else "Normal",
        source=k8s.V1EventSource(component=SOURCE_COMPONENT),
        reporting_component=REPORTING_COMPONENT,
        reporting_instance=socket.gethostname(),
        first_timestamp=now,
        last_timestamp=now,
        count=1,
    )
