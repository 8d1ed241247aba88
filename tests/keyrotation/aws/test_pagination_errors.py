"""One paginator walk and one reading of AWS errors for every AWS module."""

from __future__ import annotations

import boto3
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from keyrotation.aws.errors import describe_error, error_code, error_message
from keyrotation.aws.pagination import paginate


def test_paginate_follows_every_page_with_the_page_size_asked() -> None:
    # moto never paginates: the pages come from a stub.
    iam = boto3.client("iam", region_name="us-east-1")
    stubber = Stubber(iam)
    user = {"Path": "/", "UserId": "AIDA0000000000000000", "CreateDate": "2024-01-01"}
    stubber.add_response(
        "list_users",
        {
            "Users": [{**user, "UserName": "alice", "Arn": "arn:aws:iam::1:user/alice"}],
            "IsTruncated": True,
            "Marker": "next",
        },
        {"MaxItems": 1},
    )
    stubber.add_response(
        "list_users",
        {"Users": [{**user, "UserName": "bob", "Arn": "arn:aws:iam::1:user/bob"}]},
        {"MaxItems": 1, "Marker": "next"},
    )
    with stubber:
        names = [item["UserName"] for item in paginate(iam, "list_users", "Users", page_size=1)]
    assert names == ["alice", "bob"]
    stubber.assert_no_pending_responses()


def _denied() -> ClientError:
    return ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "not allowed for AKIASECRETVALUE0001"}},
        "CreateAccessKey",
    )


def test_an_aws_error_is_read_once() -> None:
    error = _denied()
    assert (error_code(error), error_message(error)) == (
        "AccessDenied",
        "not allowed for AKIASECRETVALUE0001",
    )
    assert describe_error(error) == (
        "CreateAccessKey: AccessDenied: not allowed for AKIASECRETVALUE0001"
    )


def test_describe_error_hides_what_it_is_asked_to_hide() -> None:
    assert "AKIASECRETVALUE0001" not in describe_error(_denied(), hide="AKIASECRETVALUE0001")
    assert describe_error(ValueError("bad"), hide="x") == "ValueError: bad"


def test_an_error_without_details_reads_as_empty() -> None:
    error = ClientError({}, "ListUsers")
    assert (error_code(error), error_message(error)) == ("", "")
