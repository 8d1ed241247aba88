"""Where the email templates come from and how they are rendered.

Templates are Jinja2 files: ``<name>.html.j2`` (autoescaped) and ``<name>.txt.j2`` (plain
text). They come from the packaged folder ``include/email_templates``, from an
operator's folder, or from ``s3://bucket/prefix/`` through the amazon provider's S3Hook.
Undefined values are errors (StrictUndefined), and templates run in Jinja2's sandbox
because an operator's bucket is a weaker trust boundary than the code.

Every failure names the template and where it was looked for, and is raised while
rendering, which the notification step does for all emails before it sends any.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import meta
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment

from keyrotation.notification.errors import TemplateError

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

__all__ = [
    "TEMPLATES_DIR_ENV",
    "TemplateSource",
    "default_templates_dir",
    "load_template_source",
]

TEMPLATES_DIR_ENV = "KEYROTATION_TEMPLATES_DIR"

_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class TemplateSource:
    """A Jinja2 environment over one template location, with errors that name both."""

    def __init__(self, loader: jinja2.BaseLoader, description: str) -> None:
        self.description = description
        self._environment = ImmutableSandboxedEnvironment(
            loader=loader,
            autoescape=_autoescape,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def check(self, names: Iterable[str]) -> None:
        """Load and compile each template and every template it extends, includes or imports."""
        seen: set[str] = set()
        for name in names:
            self._check(name, seen)

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        try:
            return self._environment.get_template(name).render(context)
        except jinja2.UndefinedError as error:
            raise TemplateError(
                f"email template {name!r} from {self.description} uses an undefined value: "
                f"{error.message}"
            ) from error
        except jinja2.TemplateError as error:
            raise self._explain(name, error) from error

    def _check(self, name: str, seen: set[str]) -> None:
        if name in seen:
            return
        seen.add(name)
        try:
            template = self._environment.get_template(name)
            source, _, _ = self._environment.loader.get_source(  # type: ignore[union-attr]
                self._environment, template.name or name
            )
            referenced = meta.find_referenced_templates(self._environment.parse(source, name))
        except jinja2.TemplateError as error:
            raise self._explain(name, error) from error
        for child in referenced:
            if child is not None:  # a name computed at render time cannot be checked here
                self._check(child, seen)

    def _explain(self, name: str, error: jinja2.TemplateError) -> TemplateError:
        if isinstance(error, jinja2.TemplateNotFound):
            missing = error.name or name
            detail = "" if missing == name else f" (needed by {name!r})"
            return TemplateError(
                f"email template {missing!r}{detail} was not found in {self.description}"
            )
        if isinstance(error, jinja2.TemplateSyntaxError):
            return TemplateError(
                f"email template {error.name or name!r} from {self.description} has a syntax "
                f"error on line {error.lineno}: {error.message}"
            )
        return TemplateError(
            f"email template {name!r} from {self.description} failed to render: {error}"
        )


def load_template_source(
    location: str, *, s3_hook_factory: Callable[[], S3Hook] | None = None
) -> TemplateSource:
    """The templates at ``location``: "" for the packaged ones, a folder, or ``s3://b/prefix/``.

    ``s3_hook_factory`` builds the S3Hook used for an ``s3://`` location (the caller picks
    the AWS connection); without one the hook's default connection is used.
    """
    location = location.strip()
    if location.lower().startswith("s3://"):
        return _s3_source(location, s3_hook_factory)
    folder = Path(location).expanduser() if location else default_templates_dir()
    if not folder.is_dir():
        raise TemplateError(f"email template folder {folder} does not exist or is not a folder")
    return TemplateSource(jinja2.FileSystemLoader(str(folder)), f"folder {folder}")


def default_templates_dir() -> Path:
    """The packaged templates: ``$KEYROTATION_TEMPLATES_DIR``, else the Airflow home's
    ``include/email_templates`` (include/ next to dags/), else the dags folder's (where the
    MWAA bundle puts them), else the one of this repository."""
    explicit = os.environ.get(TEMPLATES_DIR_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    airflow_home = Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser()
    for candidate in (airflow_home / "include", _dags_folder() / "include"):
        if (candidate / "email_templates").is_dir():
            return candidate / "email_templates"
    # plugins/keyrotation/notification/templates.py -> the repository root is three up.
    return Path(__file__).resolve().parents[3] / "include" / "email_templates"


def _dags_folder() -> Path:
    try:
        from keyrotation.compat import conf

        return Path(conf.get("core", "dags_folder")).expanduser()
    except Exception:  # outside an Airflow installation there is no dags folder
        return Path(os.environ.get("AIRFLOW__CORE__DAGS_FOLDER", "dags"))


def _s3_source(location: str, hook_factory: Callable[[], S3Hook] | None) -> TemplateSource:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    try:
        bucket, prefix = S3Hook.parse_s3_url(location)
    except Exception as error:  # the provider's S3HookUriParseFailure and friends
        raise TemplateError(
            f"email template location {location!r} is not an S3 URL: {error}"
        ) from error
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    loader = _S3Loader(hook_factory or S3Hook, bucket, prefix)
    return TemplateSource(loader, f"s3://{bucket}/{prefix}")


class _S3Loader(jinja2.BaseLoader):
    """Reads ``<prefix><template name>`` from a bucket, once per template and run."""

    def __init__(self, hook_factory: Callable[[], S3Hook], bucket: str, prefix: str) -> None:
        self._hook_factory = hook_factory
        self._hook: S3Hook | None = None
        self._bucket = bucket
        self._prefix = prefix
        self._sources: dict[str, str] = {}

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        from botocore.exceptions import BotoCoreError, ClientError

        # split_template_path refuses ".." so a template cannot reach outside the prefix.
        key = self._prefix + "/".join(split_template_path(template))
        url = f"s3://{self._bucket}/{key}"
        if key in self._sources:
            return self._sources[key], url, lambda: True
        try:
            if self._hook is None:
                self._hook = self._hook_factory()
            text = self._hook.read_key(key=key, bucket_name=self._bucket)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND_CODES:
                raise jinja2.TemplateNotFound(template) from None
            raise TemplateError(f"could not read email template {url}: {error}") from error
        except BotoCoreError as error:
            raise TemplateError(f"could not read email template {url}: {error}") from error
        # Templates do not change during a run: read each once, never reload.
        self._sources[key] = text
        return text, url, lambda: True


def _autoescape(name: str | None) -> bool:
    # HTML (and XML) templates escape every value; plain-text templates must not.
    if name is None:
        return True
    base = name.lower().removesuffix(".j2").removesuffix(".jinja").removesuffix(".jinja2")
    return base.endswith((".html", ".htm", ".xml"))
