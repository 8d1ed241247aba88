"""What the DAG suites need from Airflow, the same on every supported version.

Airflow 3 moved the DagBag, renamed the XCom table's model and changed ``dag.test``'s
signature; the suites call these helpers and never the moved names.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from keyrotation.compat import AIRFLOW_V3, AIRFLOW_VERSION, first_found


def dag_bag(dag_folder: Path) -> Any:
    """A DagBag of ``dag_folder`` (``airflow.dag_processing.dagbag`` since Airflow 3.1)."""
    bag_class = first_found("DagBag", "airflow.dag_processing.dagbag", "airflow.models.dagbag")
    return bag_class(dag_folder=str(dag_folder))


def run_dag_test(dag: Any, *, conf: dict[str, Any] | None, when: datetime) -> Any:
    """``dag.test`` of a manual run at ``when``: logical date and run_after on Airflow 3,
    execution date on Airflow 2."""
    if AIRFLOW_V3:
        return dag.test(run_conf=conf, logical_date=when, run_after=when)
    return dag.test(run_conf=conf, execution_date=when)


def run_xcoms(dag_id: str, run_id: str) -> dict[tuple[str, int, str], Any]:
    """Every XCom of a DAG run, deserialized, by (task id, map index, key)."""
    from airflow.utils.session import create_session

    with create_session() as session:
        if AIRFLOW_V3:
            model = first_found("XComModel", "airflow.models.xcom")
            rows = session.query(model).filter_by(dag_id=dag_id, run_id=run_id).all()
            return {(r.task_id, r.map_index, r.key): model.deserialize_value(r) for r in rows}
        # Airflow 2's XCom model deserializes its value when loaded.
        from airflow.models.xcom import XCom

        rows = session.query(XCom).filter_by(dag_id=dag_id, run_id=run_id).all()
        return {(r.task_id, r.map_index, r.key): r.value for r in rows}


def task_states(dag_run: Any) -> dict[str, str]:
    """Task instance states by task id, with ``[map index]`` for mapped ones."""
    from airflow.utils.session import create_session

    with create_session() as session:
        return {
            ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): str(ti.state)
            for ti in dag_run.get_task_instances(session=session)
        }


def schedule_of(dag: Any) -> Any:
    """The schedule the DAG was declared with (``schedule_interval`` on Airflow 2)."""
    return dag.schedule if AIRFLOW_V3 else dag.schedule_interval


def without_test_supervisor_debug(output: str) -> str:
    """``output`` less the debug lines in which the in-process supervisor of ``dag.test`` on
    Airflow 3.0 (task SDK 1.0) echoes every request it is sent, MaskSecret's value included.

    Only ``dag.test`` uses that supervisor; a real task's supervisor omits the body of a
    MaskSecret request, and later task SDKs mask it. Every other line is kept.
    """
    if not AIRFLOW_VERSION.startswith("3.0."):
        return output
    return "\n".join(
        line
        for line in output.splitlines()
        if not ("Sending request" in line and "MaskSecret(" in line)
    )
