"""Take two lookups of moto's off the benchmark's clock: both grow with the organisation.

moto finds the account of every request by looking its access key up in every account's
IAM backend (3.7 ms a request with 1,000 accounts), and answers GetAccessKeyLastUsed by
listing the keys of every user of every account (45 ms a call with 1,000 accounts x 50
users). AWS does neither, and the moto server answers every task of the run in the
benchmark's one Python process, so these would be measured as the pipeline's or
Airflow's time. Here an access key's account is remembered once found, and a key is
first looked for in its own account; the answers do not change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def key_lookups_per_account() -> Iterator[None]:
    import moto.iam.models as iam_models

    find_account = iam_models.get_account_id_from
    last_used_anywhere = iam_models.IAMBackend.get_access_key_last_used
    accounts: dict[str, str] = {}

    def get_account_id_from(access_key: str) -> str:
        # An access key id is random and used only once issued, so its account is fixed.
        if access_key not in accounts:
            accounts[access_key] = find_account(access_key)
        return accounts[access_key]

    def get_access_key_last_used(self: Any, access_key_id: str) -> dict[str, Any]:
        key = self.access_keys.get(access_key_id)
        if key is not None and key.user_name is not None:
            return {"user_name": key.user_name, "last_used": key.last_used}
        return last_used_anywhere(self, access_key_id)

    iam_models.get_account_id_from = get_account_id_from
    iam_models.IAMBackend.get_access_key_last_used = get_access_key_last_used  # type: ignore[method-assign]
    try:
        yield
    finally:
        iam_models.get_account_id_from = find_account
        iam_models.IAMBackend.get_access_key_last_used = last_used_anywhere  # type: ignore[method-assign]
