"""The robot profiles an adapter reads with: those the episode is then judged against.

An adapter that names columns from a robot profile (ALOHA's joints, robosuite's simulator
state) must see the same profiles as the judge, the store's ``robots/`` folder included; the
caller that holds them wraps the read in :func:`profiles_for_reading`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from robots.profile import ProfileCatalog, ProfileError, RobotProfile

#: The robot profiles of the read in progress (see :func:`profiles_for_reading`).
_CATALOG: ContextVar[ProfileCatalog | None] = ContextVar("embodiq_read_profiles", default=None)


@contextmanager
def profiles_for_reading(catalog: ProfileCatalog) -> Iterator[None]:
    """Adapters called inside resolve robot models in ``catalog``: the folders the episode is
    then judged against (the store's ``robots/``, ``EMBODIQ_ROBOTS``, the shipped profiles), so
    a profile the judge sees also names the columns the adapter reads."""
    token = _CATALOG.set(catalog)
    try:
        yield
    finally:
        _CATALOG.reset(token)


def resolve_profile(name: str) -> RobotProfile | None:
    """The profile whose id or alias is ``name``, in the read's profiles (outside
    :func:`profiles_for_reading`: ``EMBODIQ_ROBOTS`` and the shipped ones); None when none
    claims it or the visible profile set is itself refused (reported where it is judged)."""
    catalog = _CATALOG.get()
    try:
        return (catalog if catalog is not None else ProfileCatalog()).resolve(name)
    except ProfileError:
        return None
