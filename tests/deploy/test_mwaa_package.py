"""The Amazon MWAA bundle built by ``python -m deploy.mwaa.package``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from deploy.mwaa.package import (
    MWAA_DAGS_FOLDER,
    MwaaBundle,
    PackageError,
    build_bundle,
    default_version,
    main,
    supported_versions,
)

REPO = Path(__file__).resolve().parents[2]
# Amazon MWAA's Airflow versions and the Python each runs (MWAA user guide, Airflow versions).
MWAA_PYTHON_OF = {"2.10.3": "3.11", "2.11.2": "3.12", "3.0.6": "3.12", "3.3.1": "3.12"}
CONSTRAINTS_LINE = re.compile(
    r'^--constraint "https://raw\.githubusercontent\.com/apache/airflow/'
    r'constraints-(?P<airflow>[\d.]+)/constraints-(?P<python>3\.\d+)\.txt"$'
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout with the real package and MWAA requirements, a DAG and two templates."""
    root = tmp_path / "repo"
    shutil.copytree(
        REPO / "plugins", root / "plugins", ignore=shutil.ignore_patterns("__pycache__")
    )
    # Build products in the source tree must stay out of the zip.
    cache = root / "plugins" / "keyrotation" / "__pycache__"
    cache.mkdir()
    (cache / "settings.cpython-311.pyc").write_bytes(b"\0")
    shutil.copytree(REPO / "requirements", root / "requirements")
    (root / "dags").mkdir()
    (root / "dags" / "iam_access_key_rotation.py").write_text("# the DAG\n")
    (root / "dags" / "scratch.py").write_text("# not part of the bundle\n")
    templates = root / "include" / "email_templates"
    (templates / "partials").mkdir(parents=True)
    (templates / "account.html.j2").write_text("<p>{{ account_id }}</p>\n")
    (templates / "partials" / "footer.txt.j2").write_text("--\n")
    return root


@pytest.fixture
def bundle(repo: Path, tmp_path: Path) -> MwaaBundle:
    return build_bundle(tmp_path / "dist" / "mwaa", repo_root=repo)


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_plugins_zip_holds_the_package_at_its_root(bundle: MwaaBundle, repo: Path) -> None:
    names = zip_names(bundle.plugins_zip)
    assert "keyrotation/__init__.py" in names
    assert all(name.startswith("keyrotation/") for name in names)
    # Every source file, package data (the report's template) included.
    sources = {
        path.relative_to(repo / "plugins").as_posix()
        for path in (repo / "plugins" / "keyrotation").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert set(names) == sources
    assert "keyrotation/report/templates/report.html.j2" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_package_imports_from_the_unpacked_zip(bundle: MwaaBundle, tmp_path: Path) -> None:
    # MWAA unpacks plugins.zip into its plugins folder, which is on sys.path.
    plugins_folder = tmp_path / "usr-local-airflow-plugins"
    with zipfile.ZipFile(bundle.plugins_zip) as archive:
        archive.extractall(plugins_folder)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); import keyrotation.settings as s; "
            "print(s.__file__); print(s.RotationSettings().member_role_name)",
            str(plugins_folder),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    module_file, role_name = result.stdout.splitlines()
    assert Path(module_file).is_relative_to(plugins_folder)
    assert role_name == "iam-key-rotation-member-role"


def test_plugins_zip_is_reproducible(repo: Path, tmp_path: Path) -> None:
    first = build_bundle(tmp_path / "one", repo_root=repo).plugins_zip.read_bytes()
    second = build_bundle(tmp_path / "two", repo_root=repo).plugins_zip.read_bytes()
    assert first == second


def test_bundle_mirrors_the_environment_bucket(bundle: MwaaBundle, repo: Path) -> None:
    files = {
        path.relative_to(bundle.root).as_posix()
        for path in bundle.root.rglob("*")
        if path.is_file()
    }
    assert files == {
        "MANIFEST.md",
        "plugins.zip",
        "requirements.txt",
        "dags/.airflowignore",
        "dags/iam_access_key_rotation.py",
        "dags/include/email_templates/account.html.j2",
        "dags/include/email_templates/partials/footer.txt.j2",
    }
    assert bundle.airflow_version == default_version(repo)
    assert bundle.mwaa_email_templates == MWAA_DAGS_FOLDER / "include" / "email_templates"
    assert bundle.mwaa_email_templates == PurePosixPath(
        "/usr/local/airflow/dags/include/email_templates"
    )


def test_rebuild_drops_files_removed_from_the_sources(repo: Path, tmp_path: Path) -> None:
    output = tmp_path / "dist"
    build_bundle(output, repo_root=repo)
    (repo / "include" / "email_templates" / "partials" / "footer.txt.j2").unlink()
    (output / "notes.txt").write_text("the operator's own file\n")
    build_bundle(output, repo_root=repo)
    templates = output / "dags" / "include" / "email_templates"
    assert not (templates / "partials" / "footer.txt.j2").exists()
    assert (templates / "account.html.j2").exists()
    assert (output / "notes.txt").exists()


def test_refuses_to_build_over_the_sources(repo: Path) -> None:
    with pytest.raises(PackageError, match="holds the sources"):
        build_bundle(repo, repo_root=repo)
    assert (repo / "dags" / "iam_access_key_rotation.py").exists()


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("dags/iam_access_key_rotation.py", "iam_access_key_rotation.py"),
        ("include/email_templates", "no email templates"),
        ("plugins/keyrotation/__init__.py", "not a Python package"),
    ],
)
def test_missing_source_is_an_error(repo: Path, tmp_path: Path, missing: str, message: str) -> None:
    target = repo / missing
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    with pytest.raises(PackageError, match=message):
        build_bundle(tmp_path / "dist", repo_root=repo)


def test_supported_versions_are_the_tested_mwaa_versions() -> None:
    versions = supported_versions(REPO)
    assert {v: version.python for v, version in versions.items()} == MWAA_PYTHON_OF
    assert list(versions) == ["2.10.3", "2.11.2", "3.0.6", "3.3.1"]
    assert default_version(REPO) == "3.3.1"


@pytest.mark.parametrize("airflow", sorted(MWAA_PYTHON_OF))
def test_requirements_name_the_official_constraints_of_the_version(
    repo: Path, tmp_path: Path, airflow: str
) -> None:
    bundle = build_bundle(tmp_path / airflow, mwaa_version=airflow, repo_root=repo)
    lines = bundle.requirements.read_text(encoding="utf-8").splitlines()
    match = CONSTRAINTS_LINE.match(lines[0])
    assert match, lines[0]
    assert (match["airflow"], match["python"]) == (airflow, MWAA_PYTHON_OF[airflow])
    comments = "\n".join(line for line in lines if line.startswith("#"))
    assert f"Airflow {airflow} (Python {MWAA_PYTHON_OF[airflow]})" in comments
    requirements = [line.strip() for line in lines[1:] if line.strip() and line[0] != "#"]
    assert requirements == ["apache-airflow-providers-amazon", "apache-airflow-providers-smtp"]
    # The providers the lock of that version tested are the ones MWAA's constraints pin.
    lock = (REPO / "requirements" / f"lock-{airflow}.txt").read_text(encoding="utf-8")
    mwaa = (REPO / "requirements" / "mwaa" / f"airflow-{airflow}-constraints.txt").read_text(
        encoding="utf-8"
    )
    for provider in requirements:
        pinned = re.search(rf"^{provider}==(\S+)$", mwaa, re.MULTILINE)
        assert pinned, provider
        assert f"{provider}=={pinned[1]}" in lock.splitlines()
    manifest = bundle.manifest.read_text(encoding="utf-8")
    assert f"Airflow {airflow}" in manifest
    assert "iam_access_key_rotation" in manifest
    assert "s3://<bucket>/dags" in manifest


def test_an_unknown_version_fails_with_the_supported_ones(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"supported: 2\.10\.3, 2\.11\.2, 3\.0\.6, 3\.3\.1"):
        build_bundle(tmp_path / "dist", mwaa_version="2.9.2", repo_root=repo)
    assert not (tmp_path / "dist").exists()


def test_airflowignore_keeps_the_processor_out_of_the_templates(bundle: MwaaBundle) -> None:
    ignore = (bundle.root / "dags" / ".airflowignore").read_text(encoding="utf-8")
    assert "include/" in ignore.splitlines()


def test_main_prints_the_upload_commands_without_calling_aws(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "dist" / "mwaa"
    code = main(
        [
            "--repo-root",
            str(repo),
            "--output",
            str(output),
            "--bucket",
            "my-mwaa-bucket",
            "--environment",
            "security-airflow",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert (output / "plugins.zip").is_file()
    assert f"aws s3 sync {output} s3://my-mwaa-bucket/" in printed
    assert "aws mwaa update-environment --name security-airflow" in printed
    assert "--plugins-s3-object-version" in printed
    assert "/usr/local/airflow/dags/include/email_templates" in printed
    assert "leave the email_templates setting unset" in printed


def test_main_rejects_an_unknown_version(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--repo-root", str(repo), "--mwaa-version", "1.10.12"])
    assert code == 1
    assert "supported: 2.10.3, 2.11.2, 3.0.6, 3.3.1" in capsys.readouterr().err
    assert not (repo / "dist").exists()


def test_main_reports_a_missing_source(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "dags" / "iam_access_key_rotation.py").unlink()
    code = main(["--repo-root", str(repo), "--output", str(tmp_path / "out")])
    assert code == 1
    assert "iam_access_key_rotation.py" in capsys.readouterr().err


def test_real_repository_bundle(tmp_path: Path) -> None:
    templates = REPO / "include" / "email_templates"
    if not any(path.is_file() for path in templates.rglob("*")):
        pytest.skip("include/email_templates holds no templates yet")
    bundle = build_bundle(tmp_path / "mwaa", repo_root=REPO)
    assert "keyrotation/__init__.py" in zip_names(bundle.plugins_zip)
    dag_source = REPO / "dags" / "iam_access_key_rotation.py"
    assert bundle.dag_file.read_bytes() == dag_source.read_bytes()
