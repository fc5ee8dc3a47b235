"""The class a setting names, built once per process for ``get`` and anew for ``build``."""

from __future__ import annotations

from typing import Any

import pytest

from scanpulse.core.backends import Backend


class Closable:
    def __init__(self) -> None:
        self.closed = False


class Other(Closable):
    pass


def test_get_builds_once_per_process_and_build_makes_a_new_one(settings: Any) -> None:
    settings.TEST_BACKEND = f"{__name__}.Closable"
    backend: Backend[Closable] = Backend("TEST_BACKEND")
    first = backend.get()
    assert type(first) is Closable
    assert backend.get() is first
    built = backend.build()
    assert type(built) is Closable and built is not first
    assert backend.get() is first


def test_reset_releases_it_and_the_next_get_follows_the_setting(settings: Any) -> None:
    settings.TEST_BACKEND = f"{__name__}.Closable"
    backend: Backend[Closable] = Backend("TEST_BACKEND")
    first = backend.get()

    def close(instance: Closable) -> None:
        instance.closed = True

    backend.reset(close)
    assert first.closed
    settings.TEST_BACKEND = f"{__name__}.Other"
    assert type(backend.get()) is Other
    backend.reset()  # nothing to release: just forgotten
    backend.reset(close)  # nothing built: nothing released
    assert type(backend.get()) is Other


def test_a_release_that_fails_keeps_the_backend(settings: Any) -> None:
    settings.TEST_BACKEND = f"{__name__}.Closable"
    backend: Backend[Closable] = Backend("TEST_BACKEND")
    first = backend.get()

    def fail(instance: Closable) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backend.reset(fail)
    assert backend.get() is first
