"""Build the files an Amazon MWAA environment loads from its S3 bucket.

Run from the repository root (``make mwaa-package MWAA_VERSION=<version>``)::

    python -m deploy.mwaa.package [--mwaa-version 3.3.1] [--output dist/mwaa-<version>]
                                  [--bucket B] [--environment E]

The supported versions are the Amazon MWAA Airflow versions the support matrix tests: those
with MWAA's constraints in ``requirements/mwaa/`` and a lock in ``requirements/``. The default
is the newest Airflow 3 among them. The result mirrors the bucket layout MWAA expects, so one
``aws s3 sync`` uploads it:

- ``plugins.zip``: the ``keyrotation`` package at the zip root. MWAA unpacks the zip into its
  plugins folder, which is on ``sys.path``, so the DAG imports ``keyrotation``.
- ``requirements.txt``: first the official Airflow constraints file of that Airflow version
  and MWAA's Python for it, then the providers the package uses (the constraints pin them).
- ``dags/iam_access_key_rotation.py``, ``dags/include/email_templates/`` and
  ``dags/.airflowignore``: MWAA copies the whole ``dags/`` prefix to
  ``/usr/local/airflow/dags``; the DAG processor skips ``include/``, where the templates are
  found without any setting.
- ``MANIFEST.md``: where each file goes and what to set in the environment.

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
    "MWAA_PROVIDERS",
    "MwaaBundle",
    "MwaaVersion",
    "PackageError",
    "build_bundle",
    "build_plugins_zip",
    "default_version",
    "main",
    "manifest_text",
    "requirements_text",
    "supported_versions",
    "upload_commands",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = "iam_access_key_rotation.py"
PACKAGE_NAME = "keyrotation"
TEMPLATES_DIR = Path("include", "email_templates")
MWAA_CONSTRAINTS_DIR = Path("requirements", "mwaa")
MWAA_DAGS_FOLDER = PurePosixPath("/usr/local/airflow/dags")
#: The providers the package imports; MWAA preinstalls them, the constraints pin them.
MWAA_PROVIDERS = ("apache-airflow-providers-amazon", "apache-airflow-providers-smtp")
#: The DAG processor skips these entries of the dags folder (templates are not DAGs).
AIRFLOWIGNORE = "include/\n"

# Build products that must never end up in the bundle.
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".DS_Store")
_IGNORED_PARTS = {"__pycache__", ".DS_Store"}
_IGNORED_SUFFIXES = {".pyc", ".pyo"}
# A fixed timestamp makes plugins.zip byte-identical for identical sources.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# The official constraints file a copy of MWAA's names in its header.
_CONSTRAINT_SOURCE = re.compile(
    r"https://raw\.githubusercontent\.com/apache/airflow/"
    r"constraints-(?P<airflow>\d+\.\d+\.\d+)/constraints-(?P<python>3\.\d+)\.txt"
)


class PackageError(RuntimeError):
    """A source the bundle needs is missing, the version is unknown or the output is unsafe."""


@dataclass(frozen=True)
class MwaaVersion:
    """An Amazon MWAA Airflow version of the support matrix and the Python MWAA runs it on."""

    airflow: str
    python: str

    @property
    def constraints_url(self) -> str:
        return (
            f"https://raw.githubusercontent.com/apache/airflow/"
            f"constraints-{self.airflow}/constraints-{self.python}.txt"
        )


@dataclass(frozen=True)
class MwaaBundle:
    """Where ``build_bundle`` put each part of the MWAA bundle."""

    root: Path
    plugins_zip: Path
    requirements: Path
    dag_file: Path
    email_templates: Path
    manifest: Path
    plugin_files: tuple[str, ...]
    version: MwaaVersion

    @property
    def airflow_version(self) -> str:
        return self.version.airflow

    @property
    def python_version(self) -> str:
        return self.version.python

    @property
    def mwaa_email_templates(self) -> PurePosixPath:
        """The templates folder as the MWAA workers see it."""
        return MWAA_DAGS_FOLDER / self.email_templates.relative_to(self.root / "dags").as_posix()


def supported_versions(repo_root: Path = REPO_ROOT) -> dict[str, MwaaVersion]:
    """The MWAA versions with MWAA's constraints and a tested lock, oldest first."""
    found = {}
    for constraints in (repo_root / MWAA_CONSTRAINTS_DIR).glob("airflow-*-constraints.txt"):
        airflow = constraints.name.removeprefix("airflow-").removesuffix("-constraints.txt")
        if not (repo_root / "requirements" / f"lock-{airflow}.txt").is_file():
            continue
        header = constraints.read_text(encoding="utf-8")[:2000]
        match = _CONSTRAINT_SOURCE.search(header)
        if match is None or match["airflow"] != airflow:
            raise PackageError(f"{constraints} does not name the constraints file it copies")
        found[airflow] = MwaaVersion(airflow=airflow, python=match["python"])
    return dict(sorted(found.items(), key=lambda item: _version_key(item[0])))


def default_version(repo_root: Path = REPO_ROOT) -> str:
    """The newest supported Airflow 3 version (MWAA's default for new environments)."""
    newest = [v for v in supported_versions(repo_root) if v.startswith("3.")]
    if not newest:
        raise PackageError("no supported Airflow 3 version in requirements/mwaa/")
    return newest[-1]


def build_bundle(
    output: Path, *, mwaa_version: str | None = None, repo_root: Path = REPO_ROOT
) -> MwaaBundle:
    """Build the MWAA bundle of ``repo_root`` for ``mwaa_version`` into ``output``, replacing
    an earlier build."""
    repo_root = repo_root.resolve()
    output = output.resolve()
    if output == repo_root or output in repo_root.parents:
        raise PackageError(f"refusing to build into {output}: it holds the sources")
    version = _version(mwaa_version or default_version(repo_root), repo_root)

    dag_source = repo_root / "dags" / DAG_FILE
    templates_source = repo_root / TEMPLATES_DIR
    _require_file(dag_source)
    if not templates_source.is_dir() or not any(_files_under(templates_source)):
        raise PackageError(f"no email templates in {templates_source}")

    output.mkdir(parents=True, exist_ok=True)
    dags = output / "dags"
    # Only the bundle's own entries are replaced; anything else in output is left alone.
    shutil.rmtree(dags, ignore_errors=True)
    dags.mkdir()

    plugins_zip = output / "plugins.zip"
    plugin_files = build_plugins_zip(repo_root / "plugins", plugins_zip)
    requirements = output / "requirements.txt"
    requirements.write_text(requirements_text(version), encoding="utf-8")
    dag_file = dags / DAG_FILE
    shutil.copyfile(dag_source, dag_file)
    (dags / ".airflowignore").write_text(AIRFLOWIGNORE, encoding="utf-8")
    email_templates = dags / TEMPLATES_DIR
    shutil.copytree(templates_source, email_templates, ignore=_IGNORED)
    manifest = output / "MANIFEST.md"
    bundle = MwaaBundle(
        root=output,
        plugins_zip=plugins_zip,
        requirements=requirements,
        dag_file=dag_file,
        email_templates=email_templates,
        manifest=manifest,
        plugin_files=plugin_files,
        version=version,
    )
    manifest.write_text(manifest_text(bundle), encoding="utf-8")
    return bundle


def requirements_text(version: MwaaVersion) -> str:
    """MWAA's requirements.txt: the official constraints line first, then the providers."""
    lines = [
        f'--constraint "{version.constraints_url}"',
        f"# Amazon MWAA Apache Airflow {version.airflow} (Python {version.python}): "
        "requirements of the DAG iam_access_key_rotation.",
        "# MWAA requires the --constraint line: the official constraints file of the",
        "# environment's Airflow and Python versions. It pins the providers below.",
        *MWAA_PROVIDERS,
    ]
    return "\n".join(lines) + "\n"


def manifest_text(bundle: MwaaBundle) -> str:
    """Where each file of the bundle goes, and what to set in the environment."""
    version = bundle.version
    templates = bundle.email_templates.relative_to(bundle.root).as_posix()
    return f"""# Amazon MWAA bundle: IAM access key rotation for Airflow {version.airflow}

Built for an Amazon MWAA environment running Apache Airflow {version.airflow} (Python
{version.python}). Upload the folder to the environment's S3 bucket (versioning on, as MWAA
requires) with `aws s3 sync . s3://<environment bucket>/`:

| file | S3 key | environment setting |
|---|---|---|
| `plugins.zip` | `plugins.zip` | Plugins file, with the uploaded object version |
| `requirements.txt` | `requirements.txt` | Requirements file, with the uploaded object version |
| `dags/{DAG_FILE}` | `dags/{DAG_FILE}` | DAG code in Amazon S3: `s3://<bucket>/dags` |
| `dags/.airflowignore` | `dags/.airflowignore` | (keeps the DAG processor out of `include/`) |
| `{templates}/` | `{templates}/` | none: found beside the DAG |

Then make the environment load the new plugins and requirements (the DAG folder is picked up
without it):

```sh
aws mwaa update-environment --name <environment> \\
  --plugins-s3-path plugins.zip --plugins-s3-object-version <plugins.zip VersionId> \\
  --requirements-s3-path requirements.txt \\
  --requirements-s3-object-version <requirements.txt VersionId>
```

## Airflow configuration options

None is required. Optional, under the environment's Airflow configuration options:

- `iam_access_key_rotation.max_concurrent_accounts`: how many accounts of a run are
  processed at once (default 4).
- `iam_access_key_rotation.pool`: run the account tasks in this Airflow pool (create it
  first, Admin > Pools); unset: the default pool.
- `core.max_map_length` (default 1024): beyond this many accounts, each mapped task
  processes a batch of accounts; nothing to change.
- An Airflow SMTP connection, only when the Variable sets `"email_transport": "smtp"` (the
  default, `ses`, needs none).

## Airflow Variable

- Variable `iam_access_key_rotation` (Admin > Variables), JSON; the run is dry until it sets
  `"dry_run": false`. For example:

```json
{{"dry_run": true, "sender_email": "security@example.com",
 "org_account_id": "111111111111", "org_role_name": "iam-key-rotation-org-inventory-role"}}
```

The execution role needs the permissions of `deploy/cloudformation/mwaa-execution-policy.yaml`,
and every account the member role of `deploy/cloudformation/member-role.yaml`.
"""


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
    parser.add_argument(
        "--mwaa-version",
        help="the environment's Apache Airflow version (default: the newest supported 3.x)",
    )
    parser.add_argument(
        "--output", type=Path, help="bundle folder (<repo-root>/dist/mwaa-<version>)"
    )
    parser.add_argument("--bucket", default="<environment-bucket>", help="for the printed commands")
    parser.add_argument("--environment", default="<environment-name>", help="MWAA environment name")
    args = parser.parse_args(argv)
    try:
        version = args.mwaa_version or default_version(args.repo_root)
        output = args.output or args.repo_root / "dist" / f"mwaa-{version}"
        bundle = build_bundle(output, mwaa_version=version, repo_root=args.repo_root)
    except PackageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    template_count = sum(1 for _ in _files_under(bundle.email_templates))
    print(
        f"Built {_shown(bundle.root)} for Amazon MWAA Apache Airflow {bundle.airflow_version} "
        f"(Python {bundle.python_version}):\n"
        f"  plugins.zip        {len(bundle.plugin_files)} files, {PACKAGE_NAME}/ at the root\n"
        f"  requirements.txt   {bundle.version.constraints_url}\n"
        f"  dags/{DAG_FILE}\n"
        f"  dags/.airflowignore\n"
        f"  dags/{TEMPLATES_DIR.as_posix()}/  {template_count} files\n"
        f"  MANIFEST.md        where each file goes, what to set\n"
    )
    commands = upload_commands(bundle, bucket=args.bucket, environment=args.environment)
    print("Upload to the environment's bucket (MWAA requires S3 versioning on it):")
    print(f"  {commands[0]}")
    print("Then make the environment load the new plugins.zip and requirements.txt:")
    print(f"  {commands[1]}")
    print(
        f"The email templates are found beside the DAG ({bundle.mwaa_email_templates}): "
        "leave the email_templates setting unset."
    )
    return 0


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it, as a person types it."""
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def _version(airflow: str, repo_root: Path) -> MwaaVersion:
    versions = supported_versions(repo_root)
    if airflow not in versions:
        raise PackageError(
            f"Airflow {airflow} is not a supported Amazon MWAA version; supported: "
            f"{', '.join(versions) or '(none)'}"
        )
    return versions[airflow]


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


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
