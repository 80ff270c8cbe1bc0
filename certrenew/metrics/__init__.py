"""What certrenew's processes count for Prometheus, wherever the work happens.

``certrenew.metrics.work`` holds the counters and histograms of renewals and
API calls: the worker processes and the scheduler both increment them. They
live on prometheus_client's default registry, which becomes multi-process safe
when ``PROMETHEUS_MULTIPROC_DIR`` is set before prometheus_client is first
imported (``certrenew worker`` does that: ``certrenew.metrics.multiprocess``).
The gauges read at scrape time (certificates, ledger, queues) belong to the
scheduler: ``scheduler.metrics``.
"""
