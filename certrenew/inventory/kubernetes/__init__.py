"""The Kubernetes inventory: ``kubernetes.io/tls`` Secrets in chosen namespaces.

Per certificate Secret ``NS/NAME`` (the entry's name)::

    NS/NAME                      type kubernetes.io/tls, label-selected: the
                                 live pair, tls.crt (leaf first, then the
                                 chain) and tls.key; settings in annotations
    NS/NAME-certrenew-pending    type Opaque, tls.key: the next key, stored
                                 before its CSR leaves the process
    NS/NAME-certrenew-previous   type Opaque, tls.crt and tls.key: the pair
                                 the last renewal replaced

Both helper Secrets carry an owner reference to the certificate Secret, so
Kubernetes deletes them with it.

Settings come from annotations on the certificate Secret, over the
configuration's defaults and ``[overrides."NS/NAME"]``:

    certrenew.io/order.<field>   an [order] setting, e.g. organization_id
    certrenew.io/policy.<field>  a [policy] setting, e.g. floor_days
    certrenew.io/label.<name>    a label for metrics and alerts, e.g. team

Annotation values are strings; numbers and booleans are read from them, and a
value starting with ``[`` or ``{`` is read as JSON (lists, contacts). Any
other ``certrenew.io/`` annotation is an error, so a typo never goes unseen.

Installation is one replace of the certificate Secret carrying the
resourceVersion it was read at (read, modify, replace). If anyone changed the
Secret in between, Kubernetes answers 409 Conflict and nothing is
overwritten: the install fails with ``SecretChangedError``.

Every call to the API server goes through ``api.calling``, which translates the
client's exceptions into certrenew's, keeping the cause.
"""

from certrenew.inventory.kubernetes.source import KubernetesSource, SecretChangedError

__all__ = ["KubernetesSource", "SecretChangedError"]
