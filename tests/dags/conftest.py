from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.airflow_support import dag_bag
from tests.conftest import REPO


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A fresh metadata database in the worker's Airflow home."""
    from airflow.utils import db

    db.resetdb()


@pytest.fixture(scope="session")
def dag(airflow_db):
    bag = dag_bag(REPO / "dags")
    assert bag.import_errors == {}
    return bag.get_dag("iam_access_key_rotation")


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def moto_organization(monkeypatch, now) -> Iterator:
    """The demo organisation on in-process moto, with AssumeRole denied where the
    member role is missing, as in AWS."""
    from moto import mock_aws

    from deploy.demo.moto_access import assume_role_requires_role
    from deploy.demo.organization import (
        age_key_in_moto,
        assume_into,
        boto3_clients,
        seed_organization,
        verify_sender,
    )

    with mock_aws(), assume_role_requires_role():
        seeded = seed_organization(
            boto3_clients(None), assume_into(None), age_keys=age_key_in_moto(now)
        )
        verify_sender(boto3_clients(None))
        yield seeded
