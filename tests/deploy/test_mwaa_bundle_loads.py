"""The MWAA bundle of the running Airflow's version, laid out as Amazon MWAA lays it out,
loads in that Airflow: run by the support matrix in each version's venv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from deploy.mwaa.package import build_bundle, supported_versions
from keyrotation.compat import AIRFLOW_VERSION, HITL_AVAILABLE

REPO = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: only what MWAA's scheduler has (Airflow and its plugins folder
# on sys.path) and nothing of this checkout.
LOAD_DAGS = """
import importlib, json, sys
for module in ("airflow.dag_processing.dagbag", "airflow.models.dagbag"):
    try:
        DagBag = importlib.import_module(module).DagBag
        break
    except (ImportError, AttributeError):
        continue
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags.get("iam_access_key_rotation")
import keyrotation
print(json.dumps({
    "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
    "dag_ids": sorted(bag.dags),
    "tasks": {t.task_id: type(t).__name__ for t in dag.tasks} if dag else {},
    "keyrotation": keyrotation.__file__,
}))
"""


@pytest.mark.skipif(
    AIRFLOW_VERSION not in supported_versions(REPO),
    reason=f"Airflow {AIRFLOW_VERSION} is not an Amazon MWAA version of the support matrix",
)
def test_bundle_loads_in_a_fresh_mwaa_layout(tmp_path: Path) -> None:
    bundle = build_bundle(tmp_path / "bundle", mwaa_version=AIRFLOW_VERSION, repo_root=REPO)
    home = tmp_path / "usr-local-airflow"
    # MWAA syncs the bucket's dags/ prefix and unpacks plugins.zip into the plugins folder.
    shutil.copytree(bundle.root / "dags", home / "dags")
    with zipfile.ZipFile(bundle.plugins_zip) as archive:
        archive.extractall(home / "plugins")
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "PYTHONPATH" and not key.startswith("AIRFLOW")
    }
    env |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    result = subprocess.run(
        [sys.executable, "-c", LOAD_DAGS, str(home / "dags")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])

    assert loaded["import_errors"] == {}
    assert loaded["dag_ids"] == ["iam_access_key_rotation"]
    assert Path(loaded["keyrotation"]).is_relative_to(home / "plugins")
    tasks = loaded["tasks"]
    core = {"list_accounts", "rotate_account_keys", "send_notifications"}
    approval = {"approval_needed", "plan_account_keys", "approve_plan"}
    # The approval stage exists where human-in-the-loop does: Airflow 3.1 and later.
    assert set(tasks) == (core | approval if HITL_AVAILABLE else core)
    assert tasks["rotate_account_keys"] == "MappedOperator"
