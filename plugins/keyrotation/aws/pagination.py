"""Every item of a paginated AWS list call, through botocore's paginators."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

__all__ = ["paginate"]


def paginate(
    client: BaseClient,
    operation: str,
    result_key: str,
    *,
    page_size: int | None = None,
    **params: Any,
) -> Iterator[dict[str, Any]]:
    """The items under ``result_key`` of every page of ``operation`` called with ``params``.

    ``page_size`` asks for pages of that many items where the call takes a page size.
    """
    config = {"PageSize": page_size} if page_size is not None else {}
    for page in client.get_paginator(operation).paginate(**params, PaginationConfig=config):
        yield from page.get(result_key, [])
