"""Delivering events to the configured endpoints, in the background.

:meth:`Webhooks.notify` (an event-bus subscriber) renders the body once per endpoint and puts
it on that endpoint's bounded queue; it never waits and never raises. Each endpoint has its own
queue and workers, so a dead receiver never delays the others.

A worker posts the body, signed afresh on every attempt (:mod:`gateway.webhooks.signing`).
2xx is delivered. A transport error, 408, 425, 429 or 5xx is retried after an exponential
back-off with jitter (a ``Retry-After`` up to the back-off cap is honoured), up to
``max_attempts``; any other answer cannot be fixed by retrying. Then the delivery is
dead-lettered in the store (:mod:`gateway.webhooks.dead_letters`).

On shutdown nothing is retried any more: a delivery waiting for its next attempt is
dead-lettered at once, queued ones get one attempt each within ``grace_seconds``, and
whatever is left then is dead-lettered too, so no event is lost silently. An event that
finds its endpoint's queue full is dropped: logged at error level with its whole body, and
counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from prometheus_client import CollectorRegistry, Counter

from gateway.config import ConfigError
from gateway.events import Event
from gateway.webhooks.config import WebhookEndpoint
from gateway.webhooks.dead_letters import DeadLetter, DeadLetterStore
from gateway.webhooks.formats import json_body, servicenow_body
from gateway.webhooks.signing import DELIVERY_HEADER, EVENT_HEADER, signed_headers

log = logging.getLogger("gateway.webhooks")

Sleep = Callable[[float], Awaitable[None]]
RETRYABLE = frozenset({408, 425, 429})
MIN_SECRET_LENGTH = 24
SHUTDOWN = "the gateway shut down before the delivery succeeded"


def retryable(status: int) -> bool:
    return status in RETRYABLE or status >= 500


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


@dataclass(slots=True)
class Delivery:
    """One event on its way to one endpoint."""

    event: Event
    body: bytes
    attempts: int = 0
    last_status: int | None = None
    last_error: str = ""
    settled: bool = field(default=False)


class _Meter:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.deliveries = Counter(
            "gatehouse_webhook_deliveries",
            "Webhook deliveries by endpoint (index in the config), event type and outcome: "
            "delivered, dead_lettered, dropped (queue full) or lost (dead-letter write failed)",
            ["endpoint", "event", "outcome"],
            registry=registry,
        )
        self.retries = Counter(
            "gatehouse_webhook_retries",
            "Webhook delivery attempts that failed and were retried",
            ["endpoint", "event"],
            registry=registry,
        )


def _secret(environ: Mapping[str, str], name: str | None, where: str) -> str | None:
    if name is None:
        return None
    value = environ.get(name, "")
    if not value:
        raise ConfigError(f"{where}: environment variable {name} is unset or empty")
    return value


class Endpoint:
    """One configured endpoint: its queue, its workers and its retry policy."""

    def __init__(
        self,
        index: int,
        config: WebhookEndpoint,
        environ: Mapping[str, str],
        *,
        client: httpx.AsyncClient,
        dead_letters: DeadLetterStore,
        meter: _Meter,
        rng: random.Random,
        sleep: Sleep,
    ) -> None:
        where = f"webhooks[{index}]"
        secret = _secret(environ, config.secret_env, f"{where}.secret_env")
        if secret is not None and len(secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"{where}.secret_env: environment variable {config.secret_env} holds "
                f"{len(secret)} characters; expected at least {MIN_SECRET_LENGTH}"
            )
        self.label = str(index)
        self.config = config
        self._secret = secret.encode() if secret is not None else None
        self._authorization = _secret(
            environ, config.authorization_env, f"{where}.authorization_env"
        )
        self._client = client
        self._dead_letters = dead_letters
        self._meter = meter
        self._rng = rng
        self._sleep = sleep
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue(config.queue_size)
        self._inflight: list[Delivery] = []
        self._workers: list[asyncio.Task[None]] = []
        self._closing = asyncio.Event()

    def wants(self, event: Event) -> bool:
        return event.type in self.config.events

    def render(self, event: Event) -> bytes:
        if self.config.format == "servicenow":
            return servicenow_body(event, self.config.servicenow)
        return json_body(event)

    def offer(self, event: Event) -> None:
        body = self.render(event)
        try:
            self.queue.put_nowait(Delivery(event, body))
        except asyncio.QueueFull:
            self._meter.deliveries.labels(self.label, event.type, "dropped").inc()
            log.error(
                "webhook %s: queue full (%d), event dropped: %s",
                self.label,
                self.config.queue_size,
                body.decode(errors="replace"),
            )

    # -- workers ---------------------------------------------------------------------------

    def start(self) -> None:
        for n in range(self.config.concurrency):
            name = f"webhook-{self.label}-{n}"
            self._workers.append(asyncio.create_task(self._work(), name=name))

    async def _work(self) -> None:
        while True:
            delivery = await self.queue.get()
            self._inflight.append(delivery)
            try:
                await self._deliver(delivery)
            except Exception:
                log.exception("webhook %s: delivery of %s failed", self.label, delivery.event.id)
                await self._bury(delivery)
            finally:
                if delivery.settled:
                    self._inflight.remove(delivery)
                self.queue.task_done()

    def delay(self, attempt: int, hint: float | None) -> float:
        """Seconds before retry ``attempt + 1``: half the exponential step, plus jitter."""
        cap = self.config.backoff_max_seconds
        if hint is not None and hint <= cap:
            return hint
        step = min(cap, self.config.backoff_initial_seconds * 2.0 ** (attempt - 1))
        return step / 2 + self._rng.uniform(0.0, step / 2)

    async def _post(self, delivery: Delivery) -> httpx.Response:
        headers = {
            "content-type": "application/json",
            "accept": "application/json",
            EVENT_HEADER: delivery.event.type,
            DELIVERY_HEADER: delivery.event.id,
        }
        if self._secret is not None:
            headers.update(signed_headers(self._secret, delivery.body))
        if self._authorization is not None:
            headers["authorization"] = self._authorization
        return await self._client.post(
            self.config.url,
            content=delivery.body,
            headers=headers,
            timeout=self.config.timeout_seconds,
        )

    async def _attempt(self, delivery: Delivery) -> tuple[bool, float | None]:
        """Post once: (worth retrying, the receiver's Retry-After if it sent one)."""
        delivery.attempts += 1
        try:
            response = await self._post(delivery)
        except httpx.HTTPError as exc:
            delivery.last_status = None
            delivery.last_error = f"{type(exc).__name__}: {exc}".rstrip(": ")
            return True, None
        if response.is_success:
            delivery.settled = True
            self._meter.deliveries.labels(self.label, delivery.event.type, "delivered").inc()
            return False, None
        delivery.last_status = response.status_code
        delivery.last_error = f"HTTP {response.status_code}: {response.text[:500]}"
        return retryable(response.status_code), retry_after(response)

    async def _deliver(self, delivery: Delivery) -> None:
        while True:
            again, hint = await self._attempt(delivery)
            if delivery.settled:
                return
            if not again or delivery.attempts >= self.config.max_attempts:
                break
            if self._closing.is_set():
                break
            self._meter.retries.labels(self.label, delivery.event.type).inc()
            await self._pause(self.delay(delivery.attempts, hint))
            if self._closing.is_set():
                break
        await self._bury(delivery)

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if shutdown begins meanwhile."""
        nap = asyncio.ensure_future(self._sleep(seconds))
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait((nap, closing), return_when=asyncio.FIRST_COMPLETED)
        finally:
            nap.cancel()
            closing.cancel()

    async def _bury(self, delivery: Delivery) -> None:
        """Dead-letter ``delivery``; if even that fails, log its body (the last resort).

        Settled only once the write returned: a write cut short by shutdown is repeated
        (a duplicate row is possible, a lost event is not)."""
        letter = DeadLetter(
            event_id=delivery.event.id,
            event_type=delivery.event.type,
            url=self.config.url,
            format=self.config.format,
            body=delivery.body.decode(errors="replace"),
            attempts=delivery.attempts,
            last_status=delivery.last_status,
            last_error=delivery.last_error or SHUTDOWN,
            created_at=datetime.fromtimestamp(delivery.event.time, UTC),
            failed_at=datetime.now(UTC),
        )
        try:
            await self._dead_letters.add(letter)
        except Exception:
            delivery.settled = True
            self._meter.deliveries.labels(self.label, delivery.event.type, "lost").inc()
            log.exception(
                "webhook %s: cannot dead-letter event %s; its body was: %s",
                self.label,
                delivery.event.id,
                letter.body,
            )
            return
        delivery.settled = True
        self._meter.deliveries.labels(self.label, delivery.event.type, "dead_lettered").inc()
        log.warning(
            "webhook %s: event %s (%s) dead-lettered after %d attempt(s): %s",
            self.label,
            delivery.event.id,
            delivery.event.type,
            delivery.attempts,
            letter.last_error,
        )

    async def stop(self, grace_seconds: float) -> None:
        """Let the queue drain for ``grace_seconds``, then dead-letter what is left."""
        self._closing.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_seconds):
                await self.queue.join()
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        unfinished = [d for d in self._inflight if not d.settled]
        self._inflight.clear()
        while not self.queue.empty():
            unfinished.append(self.queue.get_nowait())
        for delivery in unfinished:
            if not delivery.last_error:
                delivery.last_error = SHUTDOWN
            await self._bury(delivery)


class Webhooks:
    """Every configured endpoint; subscribe :meth:`notify` to the gateway's event bus."""

    def __init__(
        self,
        endpoints: Sequence[WebhookEndpoint],
        environ: Mapping[str, str],
        dead_letters: DeadLetterStore,
        *,
        registry: CollectorRegistry | None = None,
        client: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
        grace_seconds: float = 5.0,
    ) -> None:
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(follow_redirects=False)
        meter = _Meter(registry)
        rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.endpoints = [
            Endpoint(
                i,
                config,
                environ,
                client=self._client,
                dead_letters=dead_letters,
                meter=meter,
                rng=rng,
                sleep=sleep,
            )
            for i, config in enumerate(endpoints)
        ]
        self._grace = grace_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def notify(self, event: Event) -> None:
        """Queue ``event`` for every endpoint that wants it; safe from any thread."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self._loop is not None and running is not self._loop:
            self._loop.call_soon_threadsafe(self._enqueue, event)
        else:
            self._enqueue(event)

    def _enqueue(self, event: Event) -> None:
        if self._closed:
            log.error("webhooks closed, event dropped: %s %s", event.type, dict(event.payload))
            return
        for endpoint in self.endpoints:
            if endpoint.wants(event):
                try:
                    endpoint.offer(event)
                except Exception:
                    log.exception("webhook %s: cannot queue event %s", endpoint.label, event.id)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for endpoint in self.endpoints:
            endpoint.start()

    async def aclose(self) -> None:
        self._closed = True
        await asyncio.gather(*(e.stop(self._grace) for e in self.endpoints))
        if self._own_client:
            await self._client.aclose()
