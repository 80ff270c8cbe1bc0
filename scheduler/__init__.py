"""The scheduler: decides when certificates are renewed and queues the work."""
