"""Airflow operators of the rotation pipeline: thin shells over the package.

Each operator reads the settings Variable and the run's options at task start, so a bad
value fails that task with a message naming it, before any AWS call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.hooks.ses import SesHook
from airflow.providers.amazon.aws.links.base_aws import BaseAwsLink
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from keyrotation.aws.inventory import list_organization_accounts
from keyrotation.aws.sessions import AccountAccessError
from keyrotation.compat import (
    AirflowException,
    AirflowFailException,
    Context,
    conf,
)
from keyrotation.console_links import iam_users_console_url
from keyrotation.hooks import KeyRotationHook
from keyrotation.notification import build_transport, load_template_source, send_notifications
from keyrotation.report import (
    KeyRow,
    ReportStoreError,
    RunIdentity,
    build_report_files,
    default_report_uri,
    report_location,
    summarize,
    write_report,
)
from keyrotation.results import (
    Account,
    ActionRecord,
    Outcome,
    accounts_of,
    failed_records,
    format_summary_table,
    mapped_items,
)
from keyrotation.rotation import rotate_account
from keyrotation.run_context import RunContext, load_run_context
from keyrotation.settings import VARIABLE_NAME

__all__ = [
    "ACCOUNT_ERROR_KEY",
    "CONFIG_SECTION",
    "IamUsersConsoleLink",
    "ListAccountsOperator",
    "RotateAccountKeysOperator",
    "SendNotificationsOperator",
    "rotation_scheduling",
]

#: XCom key under which a rotation task records why its account failed.
ACCOUNT_ERROR_KEY = "account_error"
#: XCom key of a rotation task's report rows: every key of its accounts, for the evidence.
REPORT_ROWS_KEY = "report_rows"
#: The Airflow configuration section of the options the DAG reads when parsed: they
#: shape tasks, so they cannot wait for the settings Variable that tasks read.
CONFIG_SECTION = "iam_access_key_rotation"
DEFAULT_CONCURRENT_ACCOUNTS = 4


def rotation_scheduling() -> dict[str, Any]:
    """How the mapped rotation task is scheduled: at most ``max_concurrent_accounts``
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


class IamUsersConsoleLink(BaseAwsLink):
    """The IAM users page of the task's account in the AWS console: through the IAM
    Identity Center portal when ``sso_start_url`` is set, else by switching role."""

    name = "IAM users (AWS console)"
    key = "iam_users_console"
    format_str = ""

    def format_link(self, **kwargs: Any) -> str:
        if not kwargs.get("account_id") or not kwargs.get("aws_domain"):
            return ""
        return iam_users_console_url(
            account_id=kwargs["account_id"],
            account_name=kwargs.get("account_name", ""),
            role_name=kwargs.get("role_name", ""),
            aws_domain=kwargs["aws_domain"],
            sso_start_url=kwargs.get("sso_start_url", ""),
            sso_permission_set=kwargs.get("sso_permission_set", ""),
        )


class _KeyRotationOperator(AwsBaseOperator[KeyRotationHook]):
    """What every operator of the pipeline shares: the run context and the hooks built from
    its connection and the operator's own hook parameters (region, verify, botocore config).

    ``aws_conn_id``: the AWS connection; when the DAG gives none, the settings Variable's.
    """

    aws_hook_class = KeyRotationHook

    def __init__(self, *, settings_variable: str = VARIABLE_NAME, **kwargs: Any) -> None:
        # Only a connection the DAG names overrides the Variable's (see RunContext).
        self.dag_aws_conn_id: str | None = kwargs.get("aws_conn_id")
        super().__init__(**kwargs)
        self.settings_variable = settings_variable

    def load_run(self, context: Context) -> RunContext:
        """The run context, validated before any AWS call."""
        return load_run_context(
            context,
            settings_variable=self.settings_variable,
            dag_aws_conn_id=self.dag_aws_conn_id,
        )

    def rotation_hook(self, run: RunContext) -> KeyRotationHook:
        return KeyRotationHook(**self.hook_parameters(run))

    def ses_hook(self, run: RunContext) -> SesHook:
        return SesHook(**self.hook_parameters(run))

    def s3_hook(self, run: RunContext) -> S3Hook:
        return S3Hook(**self.hook_parameters(run))

    def hook_parameters(self, run: RunContext) -> dict[str, Any]:
        """The operator's hook parameters (the provider's), with the run's connection."""
        return {**self._hook_parameters, "aws_conn_id": run.aws_conn_id}


class ListAccountsOperator(_KeyRotationOperator):
    """List the active accounts of the organisation that this run rotates.

    :param settings_variable: the Airflow Variable holding the JSON settings.
    """

    template_fields: Sequence[str] = aws_template_fields("settings_variable")

    def execute(self, context: Context) -> list[dict[str, Any]]:
        run = self.load_run(context)
        self._check_pool()
        accounts = list_organization_accounts(self.rotation_hook(run).sessions, run.settings)
        accounts = _limit_to(accounts, run.options.accounts)
        self.log.info(
            "%s run at %s over %d account(s):\n%s",
            "Dry" if run.dry_run else "Enforcing",
            run.now.isoformat(),
            len(accounts),
            "\n".join(f"  {a.id}  {a.name}  <{a.email}>" for a in accounts) or "  (none)",
        )
        limit = max_map_length()
        items = mapped_items(accounts, limit)
        if len(items) < len(accounts):
            self.log.info(
                "%d accounts exceed core.max_map_length (%d): %d batches of up to %d accounts",
                len(accounts),
                limit,
                len(items),
                len(items[0]["accounts"]),
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


def max_map_length() -> int:
    """How many instances Airflow maps a task into at most (``core.max_map_length``)."""
    return conf.getint("core", "max_map_length", fallback=1024)


def is_backfill(context: Context) -> bool:
    run_type = getattr(context.get("dag_run"), "run_type", "") or ""
    return str(getattr(run_type, "value", run_type)).lower().endswith("backfill")


def changes_made(records: Sequence[ActionRecord]) -> list[ActionRecord]:
    """The records of changes made or attempted: what a backfill run emails about.

    Every run of a backfill sees the same pending warnings (and, dry, the same would-be
    changes); emailing them from each run would tell owners the same thing once per day
    of the backfill. A change happens once, so its email is sent once.
    """
    return [r for r in records if r.outcome in (Outcome.DONE.value, Outcome.FAILED.value)]


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


class RotateAccountKeysOperator(_KeyRotationOperator):
    """Apply the key policy to every IAM user of one account.

    Returns the account's action records (JSON-safe, never a secret). The task fails
    after processing every user if any action failed, so a retry re-scans live state
    and completes what is left.

    :param account: the account, as listed by ``ListAccountsOperator`` (templated).
    :param settings_variable: the Airflow Variable holding the JSON settings.
    """

    template_fields: Sequence[str] = aws_template_fields("account", "settings_variable")
    operator_extra_links = (IamUsersConsoleLink(),)

    def __init__(self, *, account: dict[str, str] | Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.account = account

    def execute(self, context: Context) -> list[dict[str, Any]]:
        accounts = accounts_of(self.account)
        batch = "accounts" in self.account
        label = self.account["label"] if batch else f"{accounts[0].id} {accounts[0].name}"
        context["account_label"] = label  # type: ignore[typeddict-unknown-key]
        run = self.load_run(context)
        settings = run.settings
        sessions = self.rotation_hook(run).sessions
        if not batch:
            IamUsersConsoleLink.persist(
                context=context,
                operator=self,
                region_name=sessions.region_name,
                aws_partition=sessions.partition,
                account_id=accounts[0].id,
                account_name=accounts[0].name,
                role_name=settings.member_role_name,
                sso_start_url=settings.sso_start_url,
                sso_permission_set=settings.sso_permission_set,
            )
        records: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        now = run.now
        for account in accounts:
            try:
                report = rotate_account(
                    account,
                    sessions=sessions,
                    settings=settings,
                    now=now,
                    dry_run=run.dry_run,
                    force_rotate=run.options.force_rotate,
                )
            except Exception as error:
                if not batch:
                    self._record_account_error(context, account, str(error))
                    if isinstance(error, AccountAccessError) and error.denied:
                        # Retrying cannot deploy a role: fail now, so the admin summary goes
                        # out without waiting out the retries; clear the task once the role
                        # is there.
                        raise AirflowFailException(str(error)) from None
                    raise
                # One account's failure does not stop the rest of its batch.
                self.log.exception("Account %s (%s) failed", account.id, account.name)
                errors.append({"account_id": account.id, "error": str(error)})
                continue
            records += [record.to_dict() for record in report.records]
            rows += [row.to_dict(now) for row in report.rows]
            self.log.info(
                "Summary for %s (%s):\n%s",
                account.id,
                account.name,
                format_summary_table(report.records),
            )
            if report.failed:
                failed = failed_records(report.records)
                message = f"{len(failed)} of {len(report.records)} action(s) failed: " + "; ".join(
                    f"{r.user_name} {r.action} {r.access_key_id}: {r.error}" for r in failed
                )
                errors.append({"account_id": account.id, "error": message})
        context["ti"].xcom_push(key=REPORT_ROWS_KEY, value=rows)
        if errors:
            # A failed task returns nothing, so the records go to XCom explicitly for
            # the notification task, which runs whatever happened here.
            context["ti"].xcom_push(key="return_value", value=records)
            context["ti"].xcom_push(key=ACCOUNT_ERROR_KEY, value=errors if batch else errors[0])
            raise AirflowException(
                "; ".join(f"Account {e['account_id']}: {e['error']}" for e in errors)
            )
        return records

    @staticmethod
    def _record_account_error(context: Context, account: Account, error: str) -> None:
        context["ti"].xcom_push(
            key=ACCOUNT_ERROR_KEY, value={"account_id": account.id, "error": error}
        )


class SendNotificationsOperator(_KeyRotationOperator):
    """Email each account owner and each key owner about their keys, and the admin
    about failed accounts. Fails when any account failed, after sending.

    :param accounts_task_id: the task that listed the accounts.
    :param rotation_task_id: the mapped task that rotated each account.
    :param settings_variable: the Airflow Variable holding the JSON settings.
    """

    template_fields: Sequence[str] = aws_template_fields(
        "accounts_task_id", "rotation_task_id", "settings_variable"
    )

    def __init__(
        self,
        *,
        accounts_task_id: str = "list_accounts",
        rotation_task_id: str = "rotate_account_keys",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.accounts_task_id = accounts_task_id
        self.rotation_task_id = rotation_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        run = self.load_run(context)
        settings = run.settings
        accounts, records, failures, rows = self._collect_results(context)
        evidence = self._write_evidence(context, run, accounts, failures, rows)
        if is_backfill(context):
            records = changes_made(records)
            self.log.info(
                "Backfill run: emails report only the %d change(s) this run made or failed "
                "(no warnings or audit reports, which every run of the backfill would repeat)",
                len(records),
            )
        report = send_notifications(
            accounts=accounts,
            records=records,
            failures=failures,
            settings=settings,
            dry_run=run.dry_run,
            now=run.now,
            partition=self.rotation_hook(run).sessions.partition,
            transport=build_transport(
                settings,
                ses_hook=self.ses_hook(run) if settings.email_transport == "ses" else None,
            ),
            template_source=load_template_source(
                settings.email_templates, s3_hook_factory=lambda: self.s3_hook(run)
            ),
        )
        summary = report.to_dict() | {"report": evidence}
        self.log.info("Sent %d email(s)", len(summary.get("emails", [])))
        if "error" in evidence:
            raise AirflowException(f"the evidence report was not written: {evidence['error']}")
        if failures:
            raise AirflowException(
                f"{len(failures)} account(s) failed: "
                + "; ".join(f"{account}: {error}" for account, error in sorted(failures.items()))
            )
        return summary

    def _collect_results(
        self, context: Context
    ) -> tuple[list[Account], list[ActionRecord], dict[str, str], list[KeyRow]]:
        """The listed accounts, and what each rotation task reported: action records,
        failures by account id and the report's key rows."""
        ti = context["ti"]
        listed = ti.xcom_pull(task_ids=self.accounts_task_id)
        if listed is None:
            raise AirflowException(
                f"task {self.accounts_task_id!r} produced no account list; nothing to notify"
            )
        accounts: list[Account] = []
        records: list[ActionRecord] = []
        failures: dict[str, str] = {}
        rows: list[KeyRow] = []
        # One pull per map index reads the same on Airflow 2 and 3. An item is one
        # account, or a batch of them when the accounts exceed core.max_map_length.
        for index, item in enumerate(listed):
            mapped = accounts_of(item)
            accounts += mapped
            result = ti.xcom_pull(task_ids=self.rotation_task_id, map_indexes=index)
            error = ti.xcom_pull(
                task_ids=self.rotation_task_id, key=ACCOUNT_ERROR_KEY, map_indexes=index
            )
            records += [ActionRecord.from_dict(record) for record in result or []]
            pulled = ti.xcom_pull(
                task_ids=self.rotation_task_id, key=REPORT_ROWS_KEY, map_indexes=index
            )
            rows += [KeyRow.from_dict(row) for row in pulled or []]
            for failure in error if isinstance(error, list) else [error] if error else []:
                failures[failure["account_id"]] = failure["error"]
            if result is None and not error:
                for account in mapped:
                    failures[account.id] = "the rotation task did not report a result"
        return accounts, records, failures, rows

    def _write_evidence(
        self,
        context: Context,
        run: RunContext,
        accounts: list[Account],
        failures: dict[str, str],
        rows: list[KeyRow],
    ) -> dict[str, Any]:
        """Write the run's evidence report: every key of the run's accounts."""
        dag_run = context["dag_run"]
        identity = RunIdentity(
            dag_id=dag_run.dag_id,
            run_id=dag_run.run_id,
            evaluated_at=run.now,
            dry_run=run.dry_run,
        )
        summary = summarize(
            rows,
            now=run.now,
            rotation_period_days=run.settings.policy.rotation_period_days,
            account_failures=failures,
            account_names={account.id: account.name for account in accounts},
        )
        location = report_location(
            run.settings.report_uri or default_report_uri(),
            run_id=identity.run_id,
            evaluated_at=run.now,
        )
        try:
            written = write_report(
                location,
                build_report_files(rows, summary=summary, run=identity),
                s3_hook_factory=lambda: self.s3_hook(run),
            )
        except ReportStoreError as error:
            # The emails still go out; the task fails after them, naming the problem.
            self.log.error("%s", error)
            return {"location": location, "error": str(error), "headline": summary.headline()}
        self.log.info("Evidence report (%d keys): %s\n%s", len(rows), summary.headline(), location)
        return {"location": location, "files": written, "headline": summary.headline()}
