"""Exemptions with an end date, read from tags: every way a tag value can be wrong."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from keyrotation.exemptions import (
    REASON_TAG,
    Exemption,
    ExemptionProblem,
    exemption_from_tags,
    parse_exemption,
    resolve_exemptions,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TAG = "iam-key-rotation:exempt-until"


def parse(value: str, *, now: datetime = NOW, max_days: int = 365):
    return parse_exemption(
        value,
        subject="user alice",
        tag=TAG,
        reason="vendor migration",
        source=f"user tag {TAG}",
        now=now,
        max_days=max_days,
    )


def test_a_date_exempts_through_the_end_of_that_day_utc() -> None:
    exemption = parse("2026-03-31")
    assert exemption == Exemption(
        reason="vendor migration", until=date(2026, 3, 31), source=f"user tag {TAG}"
    )
    ends = datetime(2026, 4, 1, tzinfo=UTC)
    assert exemption.ends == ends
    assert exemption.active_at(ends - timedelta(microseconds=1))
    assert not exemption.active_at(ends)


def test_today_still_exempts_and_yesterday_has_ended() -> None:
    assert isinstance(parse("2026-03-01"), Exemption)
    assert parse("2026-02-28") is None


def test_surrounding_spaces_are_ignored() -> None:
    assert isinstance(parse(" 2026-03-31 "), Exemption)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2026-13-45", "not a date"),
        ("2026-02-30", "not a date"),
        ("forever", "not a date"),
        ("31/03/2026", "not a date"),
        ("2026-3-31", "not a date"),
        ("2026-03-31T00:00:00", "not a date"),
        ("", "empty"),
        ("   ", "empty"),
    ],
    ids=repr,
)
def test_a_value_that_is_no_date_is_a_problem_naming_subject_tag_and_value(
    value: str, problem: str
) -> None:
    found = parse(value)
    assert isinstance(found, ExemptionProblem)
    assert problem in found.problem
    assert "user alice" in found.message
    assert TAG in found.message
    assert repr(value) in found.message


def test_the_cap_is_counted_in_calendar_days() -> None:
    assert isinstance(parse("2027-03-01"), Exemption)  # exactly 365 days ahead
    too_far = parse("2027-03-02")
    assert isinstance(too_far, ExemptionProblem)
    assert "max_exemption_days" in too_far.message


def test_a_date_ten_years_out_is_a_problem() -> None:
    assert isinstance(parse("2036-03-01"), ExemptionProblem)


def test_a_smaller_cap_applies() -> None:
    assert isinstance(parse("2026-03-31", max_days=30), Exemption)
    assert isinstance(parse("2026-04-01", max_days=30), ExemptionProblem)


def test_tags_are_read_case_insensitively_with_the_reason_tag() -> None:
    tags = {"IAM-Key-Rotation:Exempt-Until": "2026-03-10", REASON_TAG.upper(): "freeze"}
    found = exemption_from_tags(
        tags, subject="user a", exempt_tag=TAG, source="user tag", now=NOW, max_days=365
    )
    assert isinstance(found, Exemption)
    assert found.reason == "freeze"


@pytest.mark.parametrize("tags", [None, {}, {"owner": "a@example.com"}])
def test_no_tag_no_exemption(tags) -> None:
    assert (
        exemption_from_tags(
            tags, subject="user a", exempt_tag=TAG, source="user tag", now=NOW, max_days=365
        )
        is None
    )


def test_an_empty_exempt_tag_setting_turns_tag_exemptions_off() -> None:
    found = exemption_from_tags(
        {TAG: "2026-03-10"}, subject="user a", exempt_tag="", source="", now=NOW, max_days=365
    )
    assert found is None


def test_resolution_keeps_the_later_end_and_collects_problems() -> None:
    resolved = resolve_exemptions(
        account_id="111122223333",
        account_tags={TAG: "2026-03-10"},
        user_tags={
            "alice": {TAG: "2026-04-30"},
            "bob": {TAG: "2026-03-05"},
            "carol": {TAG: "forever"},
            "dave": None,
        },
        exempt_tag=TAG,
        now=NOW,
        max_days=365,
    )
    assert resolved.account is not None and resolved.account.until == date(2026, 3, 10)
    assert sorted(resolved.users) == ["alice", "bob"]
    assert [(p.user_name, p.value) for p in resolved.problems] == [("carol", "forever")]
    assert resolved.ends(["alice", "bob", "carol", "dave"]) == {
        "alice": datetime(2026, 5, 1, tzinfo=UTC),
        "bob": datetime(2026, 3, 11, tzinfo=UTC),
        "carol": datetime(2026, 3, 11, tzinfo=UTC),
        "dave": datetime(2026, 3, 11, tzinfo=UTC),
    }


def test_a_bad_account_tag_is_a_problem_of_the_account() -> None:
    resolved = resolve_exemptions(
        account_id="111122223333",
        account_tags={TAG: "2026-13-45"},
        user_tags={"alice": {}},
        exempt_tag=TAG,
        now=NOW,
        max_days=365,
    )
    assert resolved.account is None
    (problem,) = resolved.problems
    assert problem.user_name == ""
    assert "account 111122223333" in problem.message
    assert resolved.ends(["alice"]) == {}
