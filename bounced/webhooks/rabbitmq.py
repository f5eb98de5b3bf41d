"""A [[brokers]] sink: outbox events published to a RabbitMQ topic exchange with publisher confirms.

Each event is one persistent message: the webhook body (schema 1, the same bytes), routing
key `routing_key_prefix + type`, `message_id` the event id (consumers de-duplicate by it),
`type` and the header `bounced-event-type` the event type. An event counts as delivered only
once the broker confirmed it (Basic.Ack); a nack, a return (with `mandatory`), a timeout or a
lost connection leaves it to the dispatcher's retries. The connection is opened on first use
and again after any failure (the dispatcher's backoff paces the attempts), so a broker
restart or a cut network heals by itself. The URL's password is never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

import aio_pika
import aiormq.exceptions
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange

from bounced.config.brokers import BrokerConfig, redact_url
from bounced.logfmt import kv
from bounced.model import WebhookDelivery
from bounced.webhooks.payload import SCHEMA_VERSION, event_body

__all__ = ["EVENT_TYPE_HEADER", "RabbitMQSink", "broker_problem", "describe_error", "open_exchange"]

log = logging.getLogger("bounced.brokers")

EVENT_TYPE_HEADER = "bounced-event-type"
# What a failed publish or connect can raise: the AMQP errors, and the socket's.
_ERRORS = (aiormq.exceptions.AMQPError, ConnectionError, OSError, TimeoutError, RuntimeError)


async def open_exchange(config: BrokerConfig) -> tuple[AbstractConnection, AbstractChannel, AbstractExchange]:
    """Connect, open a confirming channel and declare the exchange (durable topic): what the
    sink publishes through, and what `check-config` tries."""
    connection = await aio_pika.connect(
        config.url, timeout=config.timeout, client_properties={"connection_name": f"bounced {config.name}"}
    )
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.declare_exchange(
            config.exchange, aio_pika.ExchangeType.TOPIC, durable=True, timeout=config.timeout
        )
    except BaseException:
        await connection.close()
        raise
    return connection, channel, exchange


async def broker_problem(config: BrokerConfig) -> str | None:
    """None when `config` connects and may declare its exchange, else why not (check-config)."""
    try:
        connection, _, _ = await open_exchange(config)
    except _ERRORS as exc:
        return describe_error(config, exc)
    await connection.close()
    return None


def describe_error(config: BrokerConfig, exc: BaseException) -> str:
    """One line for logs and the delivery's last_error, without the URL's password."""
    if isinstance(exc, aiormq.exceptions.ProtocolSyntaxError):
        # RabbitMQ closes the connection at Connection.Open when the vhost is missing or
        # the user may not use it; aiormq reports only the unexpected frame.
        text = "the broker closed the connection at open (is the vhost there, and may this user use it?)"
    else:
        text = str(exc) or "no detail"
    password = _password(config.url)
    if password:
        text = text.replace(password, "***")
    return f"{type(exc).__name__}: {text}"[:500]


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


class RabbitMQSink:
    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.key = config.name
        self.events: Sequence[str] = config.events
        self.window = config.max_unconfirmed
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._stale = False  # a confirm timed out: the link may be dead without knowing it

    async def deliver(self, batch: Sequence[WebhookDelivery]) -> list[str | None]:
        try:
            exchange = await self._open()
        except _ERRORS as exc:
            error = describe_error(self.config, exc)
            log.error(
                "broker unavailable: events wait in the outbox and are retried",
                extra=kv(event="broker_unavailable", broker=self.key, url=redact_url(self.config.url),
                         exchange=self.config.exchange, error=error),
            )  # fmt: skip
            return [error] * len(batch)
        results = list(await asyncio.gather(*(self._publish(exchange, d) for d in batch)))
        if self._broken():
            await self._lost(sum(e is not None for e in results))
        return results

    async def _publish(self, exchange: AbstractExchange, delivery: WebhookDelivery) -> str | None:
        event = delivery.event
        message = aio_pika.Message(
            event_body(event),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=str(event.id),
            type=event.type,
            timestamp=event.at,
            app_id="bounced",
            headers={EVENT_TYPE_HEADER: event.type, "bounced-schema": SCHEMA_VERSION},
        )
        routing_key = self.config.routing_key_prefix + event.type
        try:
            await exchange.publish(
                message, routing_key, mandatory=self.config.mandatory, timeout=self.config.timeout
            )
        except aio_pika.exceptions.PublishError:
            return f"returned unroutable: no queue bound for {routing_key!r} (mandatory = true)"
        except aio_pika.exceptions.DeliveryError:
            return "nacked by the broker"
        except TimeoutError:
            self._stale = True
            return f"no confirm within {self.config.timeout:g} s"
        except _ERRORS as exc:
            return describe_error(self.config, exc)
        return None

    async def _open(self) -> AbstractExchange:
        if self._exchange is not None:
            if not self._broken():
                return self._exchange
            await self._lost(0)  # it went while idle
        self._connection, self._channel, self._exchange = await open_exchange(self.config)
        log.info(
            "broker connected",
            extra=kv(event="broker_connected", broker=self.key, url=redact_url(self.config.url),
                     exchange=self.config.exchange),
        )  # fmt: skip
        return self._exchange

    def _broken(self) -> bool:
        return (
            self._stale
            or self._connection is None
            or self._connection.is_closed
            or self._channel is None
            or self._channel.is_closed
        )

    async def _lost(self, unconfirmed: int) -> None:
        log.warning(
            "broker connection lost: unconfirmed events are retried",
            extra=kv(event="broker_disconnected", broker=self.key, url=redact_url(self.config.url),
                     unconfirmed=unconfirmed),
        )  # fmt: skip
        await self._drop()

    async def _drop(self) -> None:
        """Forget the connection (closing what is left of it): the next batch opens a new one."""
        connection, self._connection, self._channel, self._exchange = self._connection, None, None, None
        self._stale = False
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(*_ERRORS):  # it was broken already: nothing more to close
                await asyncio.wait_for(connection.close(), self.config.timeout)

    async def close(self) -> None:
        await self._drop()
