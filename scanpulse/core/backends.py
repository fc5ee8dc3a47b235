"""Pluggable backends: the class a setting names by its dotted path (the event bus, the scan
executor, the stream slots), built when first needed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from django.conf import settings
from django.utils.module_loading import import_string

T = TypeVar("T")


class Backend(Generic[T]):
    """The backend a setting names: ``build()`` makes a new one, ``get()`` returns the one of
    this process (built on first use, from the setting as it is then), ``reset()`` forgets it
    so that the next ``get()`` builds it again (tests switch backends with settings
    overrides)."""

    def __init__(self, setting: str) -> None:
        self.setting = setting
        self._instance: T | None = None
        self._lock = threading.Lock()

    def build(self) -> T:
        instance: T = import_string(getattr(settings, self.setting))()
        return instance

    def get(self) -> T:
        instance = self._instance
        if instance is None:
            with self._lock:
                if self._instance is None:
                    self._instance = self.build()
                instance = self._instance
        return instance

    def reset(self, release: Callable[[T], object] | None = None) -> None:
        """Forget this process's backend, after ``release(backend)`` if there is one (close
        its connections, stop its threads). If ``release`` raises, it is not forgotten."""
        with self._lock:
            if self._instance is not None and release is not None:
                release(self._instance)
            self._instance = None
