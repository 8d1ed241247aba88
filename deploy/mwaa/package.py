"""Build the files an Amazon MWAA environment loads from its S3 bucket.

Run from the repository root::

    python -m deploy.mwaa.package [--output dist/mwaa] [--bucket B] [--environment E]

The result mirrors the bucket layout MWAA expects, so one ``aws s3 sync`` uploads it:

- ``plugins.zip``: the ``keyrotation`` package at the zip root. MWAA unpacks the zip into its
  plugins folder, which is on ``sys.path``, so the DAG imports ``keyrotation``.
- ``requirements.txt``: ``deploy/mwaa/requirements.txt`` (MWAA constraints and the provider).
- ``dags/iam_access_key_rotation.py`` and ``dags/include/email_templates/``: MWAA copies the
  whole ``dags/`` prefix to ``/usr/local/airflow/dags``, templates included.

Nothing here calls AWS: the upload commands are printed for the operator to run.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = [
    "DAG_FILE",
    "MWAA_DAGS_FOLDER",
    "MwaaBundle",
    "PackageError",
    "build_bundle",
    "build_plugins_zip",
    "main",
    "target_versions",
    "upload_commands",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = "iam_access_key_rotation.py"
PACKAGE_NAME = "keyrotation"
TEMPLATES_DIR = Path("include", "email_templates")
REQUIREMENTS_FILE = Path("deploy", "mwaa", "requirements.txt")
MWAA_DAGS_FOLDER = PurePosixPath("/usr/local/airflow/dags")

# Build products that must never end up in the bundle.
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".DS_Store")
_IGNORED_PARTS = {"__pycache__", ".DS_Store"}
_IGNORED_SUFFIXES = {".pyc", ".pyo"}
# A fixed timestamp makes plugins.zip byte-identical for identical sources.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_CONSTRAINT = re.compile(
    r'^--constraint\s+"?https://raw\.githubusercontent\.com/apache/airflow/'
    r'constraints-(?P<airflow>\d+\.\d+\.\d+)/constraints-(?P<python>3\.\d+)\.txt"?\s*$'
)


class PackageError(RuntimeError):
    """A source the bundle needs is missing or the output location is unsafe."""


@dataclass(frozen=True)
class MwaaBundle:
    """Where ``build_bundle`` put each part of the MWAA bundle."""

    root: Path
    plugins_zip: Path
    requirements: Path
    dag_file: Path
    email_templates: Path
    plugin_files: tuple[str, ...]
    airflow_version: str
    python_version: str

    @property
    def mwaa_email_templates(self) -> PurePosixPath:
        """The templates folder as the MWAA workers see it (the ``email_templates`` setting)."""
        return MWAA_DAGS_FOLDER / self.email_templates.relative_to(self.root / "dags").as_posix()


def build_bundle(output: Path, *, repo_root: Path = REPO_ROOT) -> MwaaBundle:
    """Build the MWAA bundle of ``repo_root`` into ``output``, replacing an earlier build."""
    repo_root = repo_root.resolve()
    output = output.resolve()
    if output == repo_root or output in repo_root.parents:
        raise PackageError(f"refusing to build into {output}: it holds the sources")

    dag_source = repo_root / "dags" / DAG_FILE
    templates_source = repo_root / TEMPLATES_DIR
    requirements_source = repo_root / REQUIREMENTS_FILE
    _require_file(dag_source)
    _require_file(requirements_source)
    if not templates_source.is_dir() or not any(_files_under(templates_source)):
        raise PackageError(f"no email templates in {templates_source}")
    airflow_version, python_version = target_versions(requirements_source)

    output.mkdir(parents=True, exist_ok=True)
    dags = output / "dags"
    # Only the bundle's own entries are replaced; anything else in output is left alone.
    shutil.rmtree(dags, ignore_errors=True)
    dags.mkdir()

    plugins_zip = output / "plugins.zip"
    plugin_files = build_plugins_zip(repo_root / "plugins", plugins_zip)
    requirements = output / "requirements.txt"
    shutil.copyfile(requirements_source, requirements)
    dag_file = dags / DAG_FILE
    shutil.copyfile(dag_source, dag_file)
    email_templates = dags / TEMPLATES_DIR
    shutil.copytree(templates_source, email_templates, ignore=_IGNORED)
    return MwaaBundle(
        root=output,
        plugins_zip=plugins_zip,
        requirements=requirements,
        dag_file=dag_file,
        email_templates=email_templates,
        plugin_files=plugin_files,
        airflow_version=airflow_version,
        python_version=python_version,
    )


def build_plugins_zip(plugins_dir: Path, destination: Path) -> tuple[str, ...]:
    """Zip the contents of ``plugins_dir`` (not the folder itself); return the entry names."""
    if not (plugins_dir / PACKAGE_NAME / "__init__.py").is_file():
        raise PackageError(f"{plugins_dir / PACKAGE_NAME} is not a Python package")
    names: list[str] = []
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(_files_under(plugins_dir)):
            name = path.relative_to(plugins_dir).as_posix()
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
            names.append(name)
    return tuple(names)


def target_versions(requirements: Path) -> tuple[str, str]:
    """The (Airflow, Python) versions named by the constraints URL on the file's first line."""
    first_line = requirements.read_text(encoding="utf-8").splitlines()[0]
    match = _CONSTRAINT.match(first_line)
    if match is None:
        raise PackageError(
            f"the first line of {requirements} must be the official Airflow constraints URL, "
            f'--constraint "https://raw.githubusercontent.com/apache/airflow/'
            f'constraints-<airflow>/constraints-<python>.txt"'
        )
    return match["airflow"], match["python"]


def upload_commands(bundle: MwaaBundle, *, bucket: str, environment: str) -> list[str]:
    """The AWS CLI commands that upload the bundle and make the environment load it."""

    def version_of(key: str) -> str:
        return (
            f'"$(aws s3api head-object --bucket {bucket} --key {key} '
            f'--query VersionId --output text)"'
        )

    return [
        f"aws s3 sync {_shown(bundle.root)} s3://{bucket}/",
        (
            f"aws mwaa update-environment --name {environment}"
            f" --plugins-s3-path plugins.zip"
            f" --plugins-s3-object-version {version_of('plugins.zip')}"
            f" --requirements-s3-path requirements.txt"
            f" --requirements-s3-object-version {version_of('requirements.txt')}"
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.mwaa.package",
        description="Build the Amazon MWAA bundle (plugins.zip, requirements.txt, dags/).",
    )
    parser.add_argument(
        "--repo-root", type=Path, default=REPO_ROOT, help="repository to package (this one)"
    )
    parser.add_argument("--output", type=Path, help="bundle folder (<repo-root>/dist/mwaa)")
    parser.add_argument("--bucket", default="<environment-bucket>", help="for the printed commands")
    parser.add_argument("--environment", default="<environment-name>", help="MWAA environment name")
    args = parser.parse_args(argv)
    try:
        output = args.output or args.repo_root / "dist" / "mwaa"
        bundle = build_bundle(output, repo_root=args.repo_root)
    except PackageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    template_count = sum(1 for _ in _files_under(bundle.email_templates))
    versions = f"constraints-{bundle.airflow_version}/constraints-{bundle.python_version}.txt"
    print(
        f"Built {_shown(bundle.root)} for Amazon MWAA Apache Airflow {bundle.airflow_version} "
        f"(Python {bundle.python_version}):\n"
        f"  plugins.zip       {len(bundle.plugin_files)} files, {PACKAGE_NAME}/ at the root\n"
        f"  requirements.txt  {versions}\n"
        f"  dags/{DAG_FILE}\n"
        f"  dags/{TEMPLATES_DIR.as_posix()}/  {template_count} files\n"
    )
    commands = upload_commands(bundle, bucket=args.bucket, environment=args.environment)
    print("Upload to the environment's bucket (MWAA requires S3 versioning on it):")
    print(f"  {commands[0]}")
    print("Then make the environment load the new plugins.zip and requirements.txt:")
    print(f"  {commands[1]}")
    print(
        "In the Airflow Variable iam_access_key_rotation, point at the uploaded templates:\n"
        f'  "email_templates": "{bundle.mwaa_email_templates}"'
    )
    return 0


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it, as a person types it."""
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise PackageError(f"missing {path}")


def _files_under(folder: Path) -> Iterator[Path]:
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if (
            path.is_file()
            and not _IGNORED_PARTS.intersection(relative.parts)
            and path.suffix not in _IGNORED_SUFFIXES
        ):
            yield path


if __name__ == "__main__":
    sys.exit(main())
