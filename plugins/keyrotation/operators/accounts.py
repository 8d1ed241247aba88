"""Listing the run's accounts, and how the tasks mapped over them are scheduled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from keyrotation.aws.inventory import list_organization_accounts
from keyrotation.compat import AIRFLOW_VERSION, HITL_AVAILABLE, AirflowFailException, Context, conf
from keyrotation.operators.base import KeyRotationBaseOperator
from keyrotation.results import Account, mapped_items
from keyrotation.run_context import RunContext

__all__ = [
    "CONFIG_SECTION",
    "ListAccountsOperator",
    "accounts_per_task",
    "max_map_length",
    "rotation_scheduling",
]

#: The Airflow configuration section of the options the DAG reads when parsed: they
#: shape tasks, so they cannot wait for the settings Variable that tasks read.
CONFIG_SECTION = "iam_access_key_rotation"
DEFAULT_CONCURRENT_ACCOUNTS = 4


def rotation_scheduling() -> dict[str, Any]:
    """How the tasks mapped over accounts are scheduled: at most ``max_concurrent_accounts``
    accounts of a run at once, and in ``pool`` only when the configuration names one, so
    that nothing needs to be created first."""
    options: dict[str, Any] = {
        "max_active_tis_per_dagrun": conf.getint(
            CONFIG_SECTION, "max_concurrent_accounts", fallback=DEFAULT_CONCURRENT_ACCOUNTS
        )
    }
    if options["max_active_tis_per_dagrun"] < 1:
        raise ValueError(
            f"[{CONFIG_SECTION}] max_concurrent_accounts must be at least 1, "
            f"got {options['max_active_tis_per_dagrun']}"
        )
    pool = rotation_pool()
    if pool:
        options["pool"] = pool
    return options


def rotation_pool() -> str:
    return (conf.get(CONFIG_SECTION, "pool", fallback="") or "").strip()


def pool_exists(name: str) -> bool | None:
    """Whether the pool exists; None when this process may not read the metadata database."""
    try:
        from airflow.models.pool import Pool

        return Pool.get_pool(name) is not None
    except Exception:
        return None


def accounts_per_task() -> int:
    """How many accounts one mapped task rotates (``accounts_per_task``): more than one
    spreads Airflow's cost per task (about a CPU-second) over several accounts."""
    value = conf.getint(CONFIG_SECTION, "accounts_per_task", fallback=1)
    if value < 1:
        raise AirflowFailException(
            f"[{CONFIG_SECTION}] accounts_per_task must be at least 1, got {value}"
        )
    return value


def max_map_length() -> int:
    """How many instances Airflow maps a task into at most (``core.max_map_length``)."""
    return conf.getint("core", "max_map_length", fallback=1024)


class ListAccountsOperator(KeyRotationBaseOperator):
    """List the active accounts of the organisation that this run rotates.

    Returns one item per account, or batches of accounts beyond ``core.max_map_length``.

    :param settings_variable: the Airflow Variable holding the JSON settings.
    """

    template_fields: Sequence[str] = aws_template_fields("settings_variable")

    def execute(self, context: Context) -> list[dict[str, Any]]:
        run = self.load_run(context)
        self._check_pool()
        self._check_approval(run)
        accounts = list_organization_accounts(self.rotation_hook(run).sessions, run.settings)
        accounts = _limit_to(accounts, run.options.accounts)
        self.log.info(
            "%s run at %s over %d account(s)%s:\n%s",
            "Dry" if run.dry_run else "Enforcing",
            run.now.isoformat(),
            len(accounts),
            f", changes approved by a person ({run.settings.approval})"
            if run.settings.approval_required and not run.dry_run
            else "",
            "\n".join(f"  {a.id}  {a.name}  <{a.email}>" for a in accounts) or "  (none)",
        )
        limit, per_task = max_map_length(), accounts_per_task()
        items = mapped_items(accounts, limit, per_task)
        if len(items) < len(accounts):
            self.log.info(
                "%d accounts in %d batches of up to %d accounts ([%s] accounts_per_task %d, "
                "core.max_map_length %d)",
                len(accounts),
                len(items),
                len(items[0]["accounts"]),
                CONFIG_SECTION,
                per_task,
                limit,
            )
        return items

    def _check_pool(self) -> None:
        """A task in a pool that does not exist is never scheduled, silently: say so here."""
        pool = rotation_pool()
        if not pool:
            return
        exists = pool_exists(pool)
        create = (
            f'airflow pools set {pool} {DEFAULT_CONCURRENT_ACCOUNTS} "IAM key rotation: '
            f'concurrent accounts"'
        )
        if exists is False:
            raise AirflowFailException(
                f"the pool {pool!r} named by [{CONFIG_SECTION}] pool does not exist, so no "
                f"account would ever be rotated. Create it with: {create} (or remove the "
                f"option to use the default pool)"
            )
        if exists is None:
            self.log.warning("Cannot check that the pool %r exists; if not: %s", pool, create)

    def _check_approval(self, run: RunContext) -> None:
        """Without human-in-the-loop tasks, an approval setting could only be ignored."""
        if run.settings.approval_required and not HITL_AVAILABLE:
            raise AirflowFailException(
                f"the setting approval={run.settings.approval!r} needs Airflow 3.1 or later "
                f"(human-in-the-loop tasks); this is Airflow {AIRFLOW_VERSION}. Set approval "
                "to 'none', or upgrade Airflow"
            )


def _limit_to(accounts: list[Account], wanted: Sequence[str]) -> list[Account]:
    if not wanted:
        return accounts
    known = {account.id for account in accounts}
    missing = sorted(set(wanted) - known)
    if missing:
        raise AirflowFailException(
            f"run parameter 'accounts' names {', '.join(missing)}, not among the active "
            "accounts of the inventory (check inventory_ou, include_accounts and "
            "exclude_accounts)"
        )
    return [account for account in accounts if account.id in wanted]
