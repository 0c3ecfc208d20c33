"""Source adapters: each maps one on-disk layout onto the in-memory :class:`Episode`.

An adapter is a module in this package exposing an ``ADAPTER`` object that follows
:class:`pipelines.adapters.base.Adapter`. ``pipelines.sources`` discovers them all.
"""
