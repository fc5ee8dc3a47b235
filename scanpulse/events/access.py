"""Who is asking, for the stream endpoints: bearer tokens and browser sessions, and whether
the streams they opened may go on.

A resumed stream must not cost a query, so principals are cached per process, for at most
``SCANPULSE_STREAM_RECHECK_SECONDS``. Access ends in many ways: a token revoked through the
API, the command or the admin, a member removed or given another role, a user deactivated, a
session that ends or expires, an organization deleted with everything in it, a change made in
SQL. Changes made through the application are broadcast on the bus and every process acts on
them at once; but a broadcast can miss (a command run in its own process has its own in-memory
bus; SQL broadcasts nothing), so each process also looks at that same interval whether anything
changed (``AccessMonitor``): database triggers log every change that may alter a credential
(``tenancy.AccessChange``), and one small query tells whether the log grew. Only then does the
process read again the principals of its open streams and recent pollers - a query or two per
batch of distinct credentials, whatever the number of streams - and close the streams that lost
access. Every ``FULL_RECHECK_SECONDS`` it reads them again whatever the log says.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings

from . import metrics
from .db import run_db, run_db_recheck
from .principals import (
    Principal,
    access_generation,
    credentials,
    existing_scans,
    prune_access_changes,
    resolve_many,
    resolve_many_noting_use,
    resolve_session,
    resolve_token,
    sessions_in_database,
)

if TYPE_CHECKING:
    from .hub import StreamHub

logger = logging.getLogger(__name__)

NEGATIVE_CACHE_SECONDS = 5.0
MAX_ENTRIES = 50_000
# Credentials (or scans) per query when open streams are checked again.
RECHECK_BATCH = 1000
# How long a forgotten credential is remembered: longer than any read of the database takes.
FORGOTTEN_SECONDS = 60.0
# Credentials that polled within this long are read again with those of open streams, so
# that a poller's next request finds its principal in memory.
POLLED_SECONDS = 30.0
# How long a poll's cache miss waits for others to be read with it.
BATCH_WAIT_SECONDS = 0.005
# The principals of polled credentials live this many re-check intervals.
POLLED_LIFETIME_INTERVALS = 3
# However quiet the log of access changes, the principals held are read again this often: what
# no trigger sees (a TRUNCATE, triggers switched off, a session engine outside the database)
# is noticed within it.
FULL_RECHECK_SECONDS = 60.0
# The log of access changes is pruned to about this many rows once it holds ten times more.
ACCESS_CHANGES_KEPT = 1000
# What ``PrincipalCache.peek`` answers for a credential it does not hold.
MISS: Any = object()


# -- the cache ----------------------------------------------------------------------------------


def _unexpired(principal: Principal | None) -> Principal | None:
    if (
        principal is not None
        and principal.expires_at is not None
        and principal.expires_at <= time.time()
    ):
        return None
    return principal


class PrincipalCache:
    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()
        # One database read per credential at a time: a crowd reconnecting with the same
        # token or session (a dashboard on a wall of screens, a reconnect storm after the
        # entry expired) waits for the first read instead of queueing one read each.
        self._loading: dict[str, asyncio.Task[Principal | None]] = {}
        # When each credential was last forgotten: what a read begun before found is stale.
        self._forgotten: OrderedDict[str, float] = OrderedDict()
        # Credentials of the polling routes: auth key -> (secret, when last seen).
        self.polled: OrderedDict[str, tuple[str, float]] = OrderedDict()
        # Misses of the polling routes waiting to be read together (``fetch_batched``).
        self._batch: dict[str, str] = {}
        self._batch_waiting: dict[str, asyncio.Future[Principal | None]] = {}
        self._batch_task: asyncio.Task[None] | None = None

    async def resolve(self, headers: dict[bytes, bytes]) -> Principal | None:
        found = credentials(headers)
        if found is None or found[0] == "invalid":
            return None
        auth_key, secret = found
        principal = self.peek(auth_key)
        if principal is MISS:
            principal = await self.fetch(auth_key, secret)
        return _unexpired(principal)

    def peek(self, auth_key: str) -> Principal | None:
        """The cached principal (None: known not to be valid), or ``MISS``."""
        cached = self._entries.get(auth_key)
        if cached is not None and cached[0] > time.monotonic():
            return _unexpired(cached[1])
        return MISS  # type: ignore[no-any-return]

    async def fetch(self, auth_key: str, secret: str) -> Principal | None:
        """Read the principal from the database (one read per credential at a time)."""
        loading = self._loading.get(auth_key)
        if loading is None:
            loading = asyncio.get_running_loop().create_task(self._load(auth_key, secret))
            self._loading[auth_key] = loading
            loading.add_done_callback(functools.partial(self._loaded, auth_key))
        # Shielded: a caller that goes away does not cancel the read the others wait for.
        return _unexpired(await asyncio.shield(loading))

    async def fetch_batched(self, auth_key: str, secret: str) -> Principal | None:
        """``fetch``, the misses of the same moment read together: a crowd of pollers whose
        credentials this process has not seen yet (a restart, a deployment) costs a query or
        two per thousand credentials instead of one read each."""
        loading = self._batch_waiting.get(auth_key)
        if loading is None:
            loading = asyncio.get_running_loop().create_future()
            self._batch_waiting[auth_key] = loading
            self._batch[auth_key] = secret
            if self._batch_task is None:
                self._batch_task = asyncio.get_running_loop().create_task(self._load_batch())
        return _unexpired(await asyncio.shield(loading))

    async def _load_batch(self) -> None:
        await asyncio.sleep(BATCH_WAIT_SECONDS)  # let the misses of this moment join
        batch, self._batch = self._batch, {}
        self._batch_task = None
        waiting = {key: self._batch_waiting.pop(key) for key in batch}
        keys = list(batch)
        for start in range(0, len(keys), RECHECK_BATCH):
            part = {key: batch[key] for key in keys[start : start + RECHECK_BATCH]}
            read_at = time.monotonic()
            try:
                found = await run_db(resolve_many_noting_use, part)
            except BaseException as exc:
                for key in part:
                    if not waiting[key].done():
                        waiting[key].set_exception(exc)
                        waiting[key].exception()  # retrieved by the callers
                if not isinstance(exc, Exception):
                    raise
                continue
            for key in part:
                principal = found.get(key)
                if not self.stale(key, read_at):
                    principal = self.store(key, principal)
                if not waiting[key].done():
                    waiting[key].set_result(principal)

    def note_polled(self, auth_key: str, secret: str) -> None:
        """A poll used this credential: keep its principal fresh (``AccessMonitor``)."""
        if auth_key not in self.polled:  # first poll: live until the monitor's first pass
            cached = self._entries.get(auth_key)
            if cached is not None and cached[1] is not None:
                lifetime = POLLED_LIFETIME_INTERVALS * settings.SCANPULSE_STREAM_RECHECK_SECONDS
                self._entries[auth_key] = (time.monotonic() + lifetime, cached[1])
        self.polled[auth_key] = (secret, time.monotonic())
        self.polled.move_to_end(auth_key)
        if len(self.polled) > MAX_ENTRIES:
            self.polled.popitem(last=False)

    def recently_polled(self) -> dict[str, str]:
        """``auth_key -> secret`` of the credentials polled within ``POLLED_SECONDS``."""
        horizon = time.monotonic() - POLLED_SECONDS
        while self.polled and next(iter(self.polled.values()))[1] < horizon:
            self.polled.popitem(last=False)
        return {auth_key: secret for auth_key, (secret, _) in self.polled.items()}

    async def _load(self, auth_key: str, secret: str) -> Principal | None:
        resolver = resolve_token if auth_key.startswith("t:") else resolve_session
        read_at = time.monotonic()
        principal = await run_db(resolver, auth_key, secret)
        if not self.stale(auth_key, read_at):
            principal = self.store(auth_key, principal)
        return principal

    def _loaded(self, auth_key: str, task: asyncio.Task[Principal | None]) -> None:
        if self._loading.get(auth_key) is task:
            del self._loading[auth_key]
        if not task.cancelled():
            task.exception()  # retrieved by the callers; never "never retrieved"

    def store(
        self, auth_key: str, principal: Principal | None, lifetime: float | None = None
    ) -> Principal | None:
        """Cache a principal just read; an unchanged one keeps the object already cached, so
        that streams holding it are recognised as up to date by identity."""
        cached = self._entries.get(auth_key)
        if cached is not None and principal is not None and cached[1] == principal:
            principal = cached[1]
        if principal is None:
            lifetime = NEGATIVE_CACHE_SECONDS
        elif lifetime is None:
            lifetime = settings.SCANPULSE_STREAM_RECHECK_SECONDS
        self._entries[auth_key] = (time.monotonic() + lifetime, principal)
        self._entries.move_to_end(auth_key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)
        return principal

    def keep(self, auth_keys: Iterable[str], lifetime: float) -> None:
        """Nothing changed since these credentials' principals were read: they stay valid for
        another ``lifetime`` (credentials known not to be valid keep their short lifetime)."""
        until = time.monotonic() + lifetime
        for auth_key in auth_keys:
            cached = self._entries.get(auth_key)
            if cached is not None and cached[1] is not None:
                self._entries[auth_key] = (max(cached[0], until), cached[1])

    def stale(self, auth_key: str, read_at: float) -> bool:
        """Whether the credential was forgotten after a read that began at ``read_at``."""
        return self._forgotten.get(auth_key, -1.0) >= read_at

    def forget(self, auth_key: str) -> None:
        now = time.monotonic()
        self._entries.pop(auth_key, None)
        # A read that started before the revocation is neither cached nor waited for.
        self._loading.pop(auth_key, None)
        self._forgotten[auth_key] = now
        self._forgotten.move_to_end(auth_key)
        while self._forgotten and next(iter(self._forgotten.values())) < now - FORGOTTEN_SECONDS:
            self._forgotten.popitem(last=False)

    def forget_user(self, user_id: str) -> None:
        """Forget every credential of a user (their memberships or state changed)."""
        for auth_key, (_, principal) in list(self._entries.items()):
            if principal is not None and str(principal.user_id) == user_id:
                self.forget(auth_key)


# -- keeping open streams honest ------------------------------------------------------------------


class AccessMonitor:
    """Closes the streams of a process that lost access, however they lost it.

    Every ``SCANPULSE_STREAM_RECHECK_SECONDS`` it reads again the principal of each distinct
    credential that has open streams, in batches, and the existence of each watched scan; it
    refreshes the cache with what it read (so reconnects of those credentials cost no query)
    and closes a stream whose credential is no longer valid, whose session expired or was cut
    short, or whose organization membership is gone or has another role. An idle stream costs
    one identity comparison per pass and holds no database connection.
    """

    def __init__(self, hub: StreamHub, principals: PrincipalCache) -> None:
        self.hub = hub
        self.principals = principals
        self._task: asyncio.Task[None] | None = None
        self._checks: set[asyncio.Task[None]] = set()
        # The log of access changes as of the last full read, and when the next one is due.
        self._generation: tuple[int, int] | None = None
        self._full_due = 0.0

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="scanpulse-access"
            )

    async def stop(self) -> None:
        tasks = [task for task in (self._task, *self._checks) if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None

    async def _run(self) -> None:
        while True:
            interval = settings.SCANPULSE_STREAM_RECHECK_SECONDS
            began = time.monotonic()
            try:
                await self.check_changed()
                await self.check_scans()
            except Exception as exc:  # the database is away: streams stay, the next pass retries
                logger.warning("could not check the access of open streams: %s", exc)
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - began)))

    async def check_changed(self) -> None:
        """Read the principals held again if access may have changed since the last read;
        otherwise keep them, at the cost of one small query."""
        # Read before the principals: a change committed after this reading shows next time.
        generation = await run_db_recheck(access_generation)
        interval = settings.SCANPULSE_STREAM_RECHECK_SECONDS
        if (
            generation == self._generation
            and time.monotonic() < self._full_due
            and sessions_in_database()
        ):
            self.principals.keep(self.hub.watchers_by_auth, interval)
            polled = self.principals.recently_polled()
            self.principals.keep(polled, POLLED_LIFETIME_INTERVALS * interval)
            metrics.ACCESS_CHECKS.labels("unchanged").inc()
            return
        await self.check(list(self.hub.watchers_by_auth))
        await self.check_polled()
        self._generation = generation
        self._full_due = time.monotonic() + FULL_RECHECK_SECONDS
        metrics.ACCESS_CHECKS.labels("read").inc()
        if generation[0] > 10 * ACCESS_CHANGES_KEPT:
            await run_db_recheck(prune_access_changes, keep=ACCESS_CHANGES_KEPT)

    def user_changed(self, user_id: str) -> None:
        """A user's memberships, roles, password or state changed (a broadcast): check the
        credentials of their open streams now rather than at the next pass."""
        self.principals.forget_user(user_id)
        auth_keys = []
        for auth_key, watchers in self.hub.watchers_by_auth.items():
            principal = next(iter(watchers)).principal if watchers else None
            if principal is not None and str(principal.user_id) == user_id:
                auth_keys.append(auth_key)
        if auth_keys:
            task = asyncio.get_running_loop().create_task(self._check_now(auth_keys))
            self._checks.add(task)
            task.add_done_callback(self._checks.discard)

    async def _check_now(self, auth_keys: list[str]) -> None:
        try:
            await self.check(auth_keys)
        except Exception as exc:
            logger.warning("could not check the access of open streams: %s", exc)

    async def check(self, auth_keys: list[str]) -> None:
        for start in range(0, len(auth_keys), RECHECK_BATCH):
            batch: dict[str, str] = {}
            for auth_key in auth_keys[start : start + RECHECK_BATCH]:
                watchers = self.hub.watchers_by_auth.get(auth_key)
                principal = next(iter(watchers)).principal if watchers else None
                if principal is not None:
                    batch[auth_key] = principal.credential
            if not batch:
                continue
            read_at = time.monotonic()
            found = await run_db_recheck(resolve_many, batch)
            lifetime = settings.SCANPULSE_STREAM_RECHECK_SECONDS
            now = time.time()
            for auth_key, principal in found.items():
                if self.principals.stale(auth_key, read_at):
                    continue  # a broadcast overtook this read and has acted already
                self._enforce(auth_key, self.principals.store(auth_key, principal, lifetime), now)

    async def check_polled(self) -> None:
        """Read again the principals of the credentials that polled lately (those with open
        streams were read just before), in batches: a poller's next request is answered from
        memory, and a change made without a broadcast is seen within one interval."""
        polled = self.principals.recently_polled()
        pending = [key for key in polled if key not in self.hub.watchers_by_auth]
        # Entries outlive the next pass (even one slowed down by a busy database): a poller
        # keeps finding its principal in memory. Broadcast changes clear them at once.
        lifetime = POLLED_LIFETIME_INTERVALS * settings.SCANPULSE_STREAM_RECHECK_SECONDS
        for start in range(0, len(pending), RECHECK_BATCH):
            batch = {key: polled[key] for key in pending[start : start + RECHECK_BATCH]}
            read_at = time.monotonic()
            found = await run_db_recheck(resolve_many, batch)
            for auth_key, principal in found.items():
                if not self.principals.stale(auth_key, read_at):
                    self.principals.store(auth_key, principal, lifetime)

    def _enforce(self, auth_key: str, principal: Principal | None, now: float) -> None:
        for watcher in list(self.hub.watchers_by_auth.get(auth_key, ())):
            held = watcher.principal
            if held is principal or held is None:
                continue
            if principal is None or (
                principal.expires_at is not None and principal.expires_at <= now
            ):
                watcher.close("revoked")
            elif watcher.org_id is not None and principal.role(watcher.org_id) != held.role(
                watcher.org_id
            ):
                # Out of the organization, or in another role: what it may see is decided
                # again when the client reconnects.
                watcher.close("access changed")
            elif (
                principal.expires_at is not None
                and held.expires_at is not None
                and principal.expires_at < held.expires_at
            ):
                watcher.close("access changed")  # the session was cut short: a new deadline
            else:
                watcher.principal = principal

    async def check_scans(self) -> None:
        """Streams of scans deleted without a broadcast (SQL) end like those of any deleted scan."""
        polled_since = time.monotonic() - POLLED_SECONDS
        watched = [
            scan_id
            for scan_id, channel in self.hub.scans.items()
            if channel.watchers or channel.polled_at > polled_since
        ]
        for start in range(0, len(watched), RECHECK_BATCH):
            batch = watched[start : start + RECHECK_BATCH]
            existing = await run_db_recheck(existing_scans, batch)
            for scan_id in batch:
                channel = self.hub.scans.get(scan_id)
                if scan_id not in existing and channel is not None and channel.org_id:
                    self.hub.drop_scan(scan_id, channel.org_id)
