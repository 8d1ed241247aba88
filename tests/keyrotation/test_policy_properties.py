"""Properties of the key policy that hold for every key set, checked with hypothesis.

A scenario is one user's 0 to 2 keys (any status, 0 to 400 days old, used or not, the
last use between creation and now), an evaluation time, settings and the force flag.
Uniform ages alone would seldom land in a 7-day warning window, so half of the ages are
drawn around the moments the policy compares (expiry, end of each grace period, and
those minus W), often to the second, where its ``<=`` comparisons matter.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

import hypothesis
from hypothesis import strategies as st

from keyrotation.policy import Action, ActionType, PolicySettings, Reason, evaluate_keys

USER = "bob"
KEY_IDS = ("AKIAPROPERTYKEYAAAA1", "AKIAPROPERTYKEYBBBB2", "AKIAPROPERTYKEYCCCC3")
MAX_AGE = timedelta(days=400)
ROTATIONS = (ActionType.ROTATE, ActionType.ROTATE_AND_DELETE)

# Every property explores the same space; a few hundred scenarios each stay well
# under a second per test.
EXPLORE = hypothesis.settings(max_examples=300, deadline=None)


@dataclass(frozen=True)
class Scenario:
    keys: list[dict[str, Any]]
    now: datetime
    settings: PolicySettings
    force: bool

    def plan(self, keys: list[dict[str, Any]] | None = None) -> list[Action]:
        return evaluate_keys(
            self.keys if keys is None else keys,
            now=self.now,
            settings=self.settings,
            force_rotate=self.force,
        )


@st.composite
def policy_settings(draw: st.DrawFn) -> PolicySettings:
    """Small valid settings, the defaults among them."""
    if draw(st.booleans()):
        return PolicySettings()
    period = draw(st.integers(min_value=2, max_value=120))
    grace = draw(st.integers(min_value=1, max_value=30))
    # The safeguard needs I <= G < P; with a grace as long as the period it stays off.
    safeguard = grace < period and draw(st.booleans())
    deadline = draw(st.integers(min_value=grace, max_value=period - 1)) if safeguard else 30
    return PolicySettings(
        rotation_period_days=period,
        installation_grace_days=grace,
        recovery_grace_days=draw(st.integers(min_value=1, max_value=30)),
        warning_days=draw(st.integers(min_value=1, max_value=min(period - 1, 30))),
        require_new_key_use=safeguard,
        new_key_use_deadline_days=deadline,
    )


def durations(maximum: timedelta) -> st.SearchStrategy[timedelta]:
    """Durations up to ``maximum``, in whole days or in seconds."""
    return st.one_of(
        st.integers(min_value=0, max_value=maximum.days).map(lambda n: timedelta(days=n)),
        st.integers(min_value=0, max_value=int(maximum.total_seconds())).map(
            lambda n: timedelta(seconds=n)
        ),
    )


@st.composite
def time_ago(draw: st.DrawFn, settings: PolicySettings, at_most: timedelta) -> timedelta:
    """How long ago something happened: anywhere up to ``at_most``, or near a boundary."""
    if draw(st.booleans()):
        return draw(durations(at_most))
    period, window = settings.rotation_period, settings.warning_window
    graces = settings.installation_grace + settings.recovery_grace
    anchor = draw(
        st.sampled_from(
            [
                period,
                period - window,
                settings.installation_grace,
                settings.installation_grace - window,
                graces,
                graces - window,
                settings.new_key_use_deadline,
                settings.new_key_use_deadline - window,
            ]
        )
    )
    offset = draw(
        st.one_of(
            st.sampled_from([timedelta(0), timedelta(seconds=1), timedelta(seconds=-1)]),
            st.integers(min_value=-3, max_value=3).map(lambda n: timedelta(days=n)),
        )
    )
    return min(max(anchor + offset, timedelta(0)), at_most)


@st.composite
def key_metadata(
    draw: st.DrawFn, key_id: str, now: datetime, settings: PolicySettings
) -> dict[str, Any]:
    age = draw(time_ago(settings, MAX_AGE))
    created = now - age
    metadata: dict[str, Any] = {
        "UserName": USER,
        "AccessKeyId": key_id,
        # Two used Active keys make the richest cases: weigh "Active" and "used" up.
        "Status": draw(st.sampled_from(["Active", "Active", "Inactive"])),
        "CreateDate": created,
    }
    if draw(st.sampled_from([True, True, False])):
        metadata["LastUsedDate"] = now - draw(time_ago(settings, age))
    elif draw(st.booleans()):
        # IAM's answer for a never-used key may come as an explicit null.
        metadata["LastUsedDate"] = None
    return metadata


@st.composite
def scenarios(draw: st.DrawFn, *, forced_with_used_active: bool = False) -> Scenario:
    """Any scenario; or, if asked, a forced one whose first key is Active and used."""
    now = draw(
        st.datetimes(
            min_value=datetime(2020, 1, 1),
            max_value=datetime(2035, 1, 1),
            timezones=st.just(UTC),
        )
    )
    settings = draw(policy_settings())
    count = draw(st.sampled_from([1, 2, 2] if forced_with_used_active else [0, 1, 2, 2]))
    key_ids = draw(st.permutations(KEY_IDS))[:count]
    keys = [draw(key_metadata(key_id, now, settings)) for key_id in key_ids]
    if forced_with_used_active:
        first = keys[0]
        first["Status"] = "Active"
        first["LastUsedDate"] = now - draw(time_ago(settings, now - first["CreateDate"]))
    return Scenario(
        keys=keys,
        now=now,
        settings=settings,
        force=forced_with_used_active or draw(st.sampled_from([False, False, True])),
    )


def is_used_active(key: dict[str, Any]) -> bool:
    return key["Status"] == "Active" and key.get("LastUsedDate") is not None


def apply_plan(keys: list[dict[str, Any]], plan: list[Action]) -> dict[str, bool]:
    """Apply the plan to a simulated IAM user; return key id -> active at the end.

    Fails as IAM would: acting on a key that is gone, or holding a third key.
    """
    state = {key["AccessKeyId"]: key["Status"] == "Active" for key in keys}
    new_ids = (f"AKIANEWKEY{n:010d}" for n in itertools.count())
    for action in plan:
        assert action.access_key_id in state, f"{action} acts on a key that is gone"
        if action.action is ActionType.DELETE:
            del state[action.access_key_id]
        elif action.action is ActionType.DEACTIVATE:
            assert state[action.access_key_id], f"{action} deactivates an inactive key"
            state[action.access_key_id] = False
        elif action.action is ActionType.ROTATE:
            assert state[action.access_key_id], f"{action} rotates an inactive key"
            state[next(new_ids)] = True
        elif action.action is ActionType.ROTATE_AND_DELETE:
            assert state[action.access_key_id], f"{action} rotates an inactive key"
            del state[action.access_key_id]
            state[next(new_ids)] = True
        assert len(state) <= 2, f"{action} needs a third key: {plan}"
    return state


@EXPLORE
@hypothesis.given(scenarios())
def test_applying_the_plan_in_order_never_needs_a_third_key(scenario: Scenario) -> None:
    apply_plan(scenario.keys, scenario.plan())


@EXPLORE
@hypothesis.given(scenarios())
def test_a_used_active_key_is_only_removed_behind_a_rotation_or_a_newer_active_key(
    scenario: Scenario,
) -> None:
    plan = scenario.plan()
    by_id = {key["AccessKeyId"]: key for key in scenario.keys}
    rotates = any(action.action in ROTATIONS for action in plan)
    removed = {
        action.access_key_id
        for action in plan
        if action.action in (ActionType.DELETE, ActionType.DEACTIVATE)
    }
    for key_id in removed:
        doomed = by_id[key_id]
        if not is_used_active(doomed):
            continue
        newer_active_kept = any(
            other["Status"] == "Active"
            and other["CreateDate"] > doomed["CreateDate"]
            and other["AccessKeyId"] not in removed
            for other in scenario.keys
        )
        assert rotates or newer_active_kept, plan


@EXPLORE
@hypothesis.given(scenarios())
def test_a_user_with_a_used_active_key_keeps_an_active_key(scenario: Scenario) -> None:
    final = apply_plan(scenario.keys, scenario.plan())
    if any(is_used_active(key) for key in scenario.keys):
        assert any(final.values())


@EXPLORE
@hypothesis.given(scenarios())
def test_a_plan_rotates_at_most_once(scenario: Scenario) -> None:
    plan = scenario.plan()
    assert sum(action.action in ROTATIONS for action in plan) <= 1
    changed = [action.access_key_id for action in plan if action.action.changes_iam]
    assert len(changed) == len(set(changed)), "a key is changed twice"


@EXPLORE
@hypothesis.given(scenarios(forced_with_used_active=True))
def test_forced_rotation_of_a_used_active_key_always_rotates(scenario: Scenario) -> None:
    assert any(action.action is ActionType.ROTATE for action in scenario.plan())


@EXPLORE
@hypothesis.given(scenarios(), st.randoms(use_true_random=False))
def test_evaluation_is_deterministic(scenario: Scenario, random: Random) -> None:
    plan = scenario.plan()
    assert scenario.plan() == plan
    shuffled = [dict(key) for key in scenario.keys]
    random.shuffle(shuffled)
    assert scenario.plan(shuffled) == plan
    assert scenario.plan(scenario.keys[::-1]) == plan


@EXPLORE
@hypothesis.given(scenarios())
def test_warnings_fall_due_within_the_window_and_other_actions_have_no_due(
    scenario: Scenario,
) -> None:
    window_end = scenario.now + scenario.settings.warning_window
    # NEW_KEY_NOT_IN_USE announces the deadline for as long as the old key is kept.
    deadline_end = scenario.now + scenario.settings.new_key_use_deadline
    for action in scenario.plan():
        if action.action is ActionType.WARN and action.reason is Reason.NEW_KEY_NOT_IN_USE:
            assert action.due is not None
            assert scenario.now < action.due <= deadline_end, action
        elif action.action is ActionType.WARN:
            assert action.due is not None
            assert scenario.now < action.due <= window_end, action
        else:
            assert action.due is None, action


@EXPLORE
@hypothesis.given(scenarios())
def test_actions_only_reference_the_users_input_keys(scenario: Scenario) -> None:
    input_ids = {key["AccessKeyId"] for key in scenario.keys}
    for action in scenario.plan():
        assert action.access_key_id in input_ids
        assert action.user_name == USER


def with_safeguard(scenario: Scenario, on: bool) -> Scenario:
    settings = scenario.settings
    if on and not settings.require_new_key_use:
        grace, period = settings.installation_grace_days, settings.rotation_period_days
        if grace >= period:
            settings = replace(settings, installation_grace_days=period - 1)
        settings = replace(
            settings,
            require_new_key_use=True,
            new_key_use_deadline_days=max(settings.installation_grace_days, period - 1),
        )
    elif not on:
        settings = replace(settings, require_new_key_use=False)
    return replace(scenario, settings=settings)


def was_used(key: dict[str, Any]) -> bool:
    return key.get("LastUsedDate") is not None


@st.composite
def safeguard_scenarios(draw: st.DrawFn) -> Scenario:
    """Often the safeguard's own case: an expired used Active key beside a never-used one.

    Otherwise any scenario, with the safeguard on. The newer key's age is drawn around
    I, G and P - W (to the second), where the safeguard's comparisons matter.
    """
    scenario = with_safeguard(draw(scenarios()), on=True)
    if draw(st.booleans()):
        return scenario
    settings, now = scenario.settings, scenario.now
    expired_age = settings.rotation_period + draw(durations(timedelta(days=200)))
    anchor = draw(
        st.sampled_from(
            [
                settings.installation_grace,
                settings.new_key_use_deadline,
                settings.rotation_period - settings.warning_window,
                settings.installation_grace - settings.warning_window,
                settings.new_key_use_deadline - settings.warning_window,
            ]
        )
    )
    offset = draw(st.sampled_from([timedelta(0), timedelta(seconds=1), timedelta(seconds=-1)]))
    new_age = draw(
        st.one_of(
            st.just(anchor + offset),
            durations(settings.rotation_period - timedelta(seconds=1)),
        )
    )
    new_age = min(max(new_age, timedelta(0)), settings.rotation_period - timedelta(seconds=1))
    old_id, new_id = draw(st.permutations(KEY_IDS))[:2]
    keys = [
        {
            "UserName": USER,
            "AccessKeyId": old_id,
            "Status": "Active",
            "CreateDate": now - expired_age,
            "LastUsedDate": now - draw(durations(expired_age)),
        },
        {"UserName": USER, "AccessKeyId": new_id, "Status": "Active", "CreateDate": now - new_age},
    ]
    return Scenario(keys=keys, now=now, settings=settings, force=False)


@EXPLORE
@hypothesis.given(safeguard_scenarios())
def test_with_the_safeguard_an_active_key_waits_for_the_other_active_key_to_be_used(
    scenario: Scenario,
) -> None:
    # An Active key is never deactivated while the user's other Active key was never
    # used, before that key's deadline (its creation + G).
    plan = scenario.plan()
    for action in plan:
        if action.action is not ActionType.DEACTIVATE:
            continue
        for other in scenario.keys:
            if other["AccessKeyId"] == action.access_key_id or other["Status"] != "Active":
                continue
            if not was_used(other):
                deadline = other["CreateDate"] + scenario.settings.new_key_use_deadline
                assert deadline <= scenario.now, plan
    if safeguard_case(scenario):
        # The old key stays for as long as the deadline has not come.
        new = next(key for key in scenario.keys if not was_used(key))
        deadline = new["CreateDate"] + scenario.settings.new_key_use_deadline
        kept = not any(action.action.changes_iam for action in plan)
        assert kept == (scenario.now < deadline), plan


def safeguard_case(scenario: Scenario) -> bool:
    """Two Active keys, exactly one expired, the unexpired one never used, not forced."""
    active = [key for key in scenario.keys if key["Status"] == "Active"]
    if len(active) != 2 or len(scenario.keys) != 2 or scenario.force:
        return False
    period = scenario.settings.rotation_period
    expired = [key for key in active if key["CreateDate"] + period <= scenario.now]
    unexpired = [key for key in active if key not in expired]
    return len(expired) == 1 and was_used(expired[0]) and not was_used(unexpired[0])


@EXPLORE
@hypothesis.given(scenarios())
def test_the_safeguard_changes_only_the_rule_it_is_for(scenario: Scenario) -> None:
    on = with_safeguard(scenario, on=True)
    off = with_safeguard(on, on=False)
    if not safeguard_case(scenario):
        assert on.plan() == off.plan()


@EXPLORE
@hypothesis.given(scenarios())
def test_the_safeguard_never_acts_earlier_than_the_plain_rule(scenario: Scenario) -> None:
    # Whatever the safeguard deactivates, the plain rule deactivates too.
    on = with_safeguard(scenario, on=True)
    off = with_safeguard(on, on=False)
    changed_on = {a.access_key_id for a in on.plan() if a.action.changes_iam}
    changed_off = {a.access_key_id for a in off.plan() if a.action.changes_iam}
    assert changed_on <= changed_off


@EXPLORE
@hypothesis.given(scenarios(), durations(timedelta(days=60)))
def test_an_exempt_user_only_gets_warnings_that_the_exemption_ends(
    scenario: Scenario, remaining: timedelta
) -> None:
    ends = scenario.now + remaining + timedelta(seconds=1)
    plan = evaluate_keys(
        scenario.keys,
        now=scenario.now,
        settings=scenario.settings,
        force_rotate=scenario.force,
        exempt_until=ends,
    )
    assert all(action.action is ActionType.WARN for action in plan)
    assert all(action.reason is Reason.EXEMPTION_ENDING and action.due == ends for action in plan)
    near = ends <= scenario.now + scenario.settings.warning_window
    assert len(plan) == (len(scenario.keys) if near else 0)


@EXPLORE
@hypothesis.given(safeguard_scenarios(), st.randoms(use_true_random=False))
def test_the_safeguard_is_deterministic_whatever_the_listing_order(
    scenario: Scenario, random: Random
) -> None:
    plan = scenario.plan()
    shuffled = [dict(key) for key in scenario.keys]
    random.shuffle(shuffled)
    assert scenario.plan(shuffled) == plan
    assert scenario.plan() == plan
