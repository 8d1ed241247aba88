"""What every operator of the pipeline shares: the run context and the AWS hooks."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.hooks.ses import SesHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

from keyrotation.compat import Context
from keyrotation.hooks import KeyRotationHook
from keyrotation.run_context import RunContext, load_run_context
from keyrotation.settings import VARIABLE_NAME

__all__ = ["KeyRotationBaseOperator"]


class KeyRotationBaseOperator(AwsBaseOperator[KeyRotationHook]):
    """The run context and the hooks built from its connection and the operator's own hook
    parameters (region, verify, botocore config), as the amazon provider's operators do.

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
