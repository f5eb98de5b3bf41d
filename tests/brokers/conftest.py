"""A uniquely named exchange and queue on the real local RabbitMQ for each test (tests/brokers/rabbit.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.brokers.rabbit import RabbitQueue, rabbit_queue


@pytest.fixture
async def rabbit() -> AsyncIterator[RabbitQueue]:
    async with rabbit_queue() as queue:
        yield queue
