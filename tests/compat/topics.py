"""A topic of its own for a compat test, so no test reads what these tests publish."""

from __future__ import annotations

import uuid

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.fixtures.kafka import KafkaLogin


async def own_topic(admin_login: KafkaLogin) -> str:
    """Created by the admin, the only principal that may create topics."""
    name = f"compat-{uuid.uuid4().hex}"
    admin = AIOKafkaAdminClient(**admin_login.options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=name, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    return name
