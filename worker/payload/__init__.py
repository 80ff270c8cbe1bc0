"""Order and reissue bodies for CertCentral, and the checks DigiCert would make.

``build_order_payload`` turns an entry and its order settings into the body of
``POST /order/certificate/{product}`` (the endpoint page,
order-secure-site-ev.txt), sending only the fields that are set.
``check_order_payload`` refuses locally what DigiCert would refuse, listing
every problem at once, so a bad payload costs no API call (issue 4). Each
message starts with DigiCert's error code where API.md knows one, then names
the field, the rule and the value given.

The modules: ``build`` (the bodies), ``check`` (the checks of a whole body),
``validity`` (the order's and the certificate's lengths and dates) and
``problems`` (how one field is checked and its problem worded).
"""

from worker.payload.build import (
    build_order_payload,
    build_reissue_payload,
    ordered_names,
)
from worker.payload.check import check_order_payload, check_reissue_payload

__all__ = [
    "build_order_payload",
    "build_reissue_payload",
    "check_order_payload",
    "check_reissue_payload",
    "ordered_names",
]
