"""The moto organisation fixtures (``tests/keyrotation/moto_support.py``) for the package tests."""

from tests.keyrotation.moto_support import (
    age,
    hook,
    member,
    members,
    moto,
    now,
    rotate,
    seed,
    sessions,
    settings,
)

__all__ = [
    "age",
    "hook",
    "member",
    "members",
    "moto",
    "now",
    "rotate",
    "seed",
    "sessions",
    "settings",
]
