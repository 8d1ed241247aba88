"""PostgreSQL and Redis on 127.0.0.1 for the distributed stage: a fresh database and a
dedicated Redis db per test session, or a failure that says how to start them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

POSTGRES = "postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/11"  # a db number of its own, flushed per session

_START_HINT = (
    "The Celery stage of the system tests needs PostgreSQL (127.0.0.1:5432, user postgres, "
    "trust auth) and Redis (127.0.0.1:6379). Start them, for example with "
    "`apt-get install -y postgresql redis-server && service postgresql start && "
    "service redis-server start` (then allow trust auth for 127.0.0.1 in pg_hba.conf), or "
    "`docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16` and "
    "`docker run -d -p 6379:6379 redis:7`."
)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; its SQLAlchemy URL. Dropped afterwards."""
    import psycopg2

    name = f"airflow_system_{secrets.token_hex(4)}"
    try:
        admin = psycopg2.connect(f"postgresql://{POSTGRES}/postgres", connect_timeout=5)
    except psycopg2.OperationalError as error:
        pytest.fail(f"PostgreSQL is not reachable ({error}). {_START_HINT}", pytrace=False)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+psycopg2://{POSTGRES}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def redis_broker() -> str:
    """The broker URL, on an emptied dedicated Redis db."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError as error:
        pytest.fail(f"Redis is not reachable ({error}). {_START_HINT}", pytrace=False)
    finally:
        client.close()
    return REDIS_URL
