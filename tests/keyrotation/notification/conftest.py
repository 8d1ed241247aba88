"""Fixtures of the notification tests: settings and moto's in-process AWS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws
from notification_helpers import REGION, SENDER

from keyrotation.settings import RotationSettings


@pytest.fixture
def settings() -> RotationSettings:
    return RotationSettings(sender_email=SENDER, dry_run=False)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and moto's in-process AWS."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield
