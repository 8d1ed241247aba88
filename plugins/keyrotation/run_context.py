"""What one task of a run works with, read once at its start and never changed after."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keyrotation.compat import AirflowFailException, read_variable
from keyrotation.run_options import RunConfError, RunOptions, evaluation_time
from keyrotation.settings import RotationSettings, SettingsError, settings_from_json

__all__ = ["RunContext", "load_run_context"]


@dataclass(frozen=True)
class RunContext:
    """The validated settings, the run's options, its evaluation time and the AWS
    connection the task uses.

    Which connection: the ``aws_conn_id`` given to the operator in the DAG wins; when the
    DAG gives none, the ``aws_conn_id`` of the settings Variable (default ``aws_default``).
    """

    settings: RotationSettings
    options: RunOptions
    now: datetime
    aws_conn_id: str

    @property
    def dry_run(self) -> bool:
        """A run is dry when its conf or the settings say so."""
        return self.options.dry_run or self.settings.dry_run


def load_run_context(
    context: Mapping[str, Any], *, settings_variable: str, dag_aws_conn_id: str | None
) -> RunContext:
    """Validate the settings Variable and the run's conf, before any AWS call; a bad value
    fails the task without retries, naming it."""
    try:
        settings = settings_from_json(read_variable(settings_variable))
    except SettingsError as error:
        raise AirflowFailException(f"Variable {settings_variable!r}: {error}") from None
    dag_run = context.get("dag_run")
    try:
        options = RunOptions.from_conf(getattr(dag_run, "conf", None))
        now = evaluation_time(context)
    except RunConfError as error:
        raise AirflowFailException(f"Rejected run conf: {error}") from None
    return RunContext(
        settings=settings,
        options=options,
        now=now,
        aws_conn_id=dag_aws_conn_id or settings.aws_conn_id,
    )
