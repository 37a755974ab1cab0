import datetime as dt
import zoneinfo

from bot.domain.schedule import plan_slots, slots_between

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
UTC = dt.timezone.utc
GRACE = dt.timedelta(hours=3)


def berlin(*args):
    return dt.datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def test_slots_follow_the_accounts_timezone_across_dst():
    # Berlin leaves summer time on 25 Oct 2026: 08:30 local is 06:30 UTC before, 07:30 UTC after.
    slots = slots_between("30 8 * * *", "Europe/Berlin", berlin(2026, 10, 24, 0), berlin(2026, 10, 26, 23))
    assert [s.strftime("%m-%d %H:%M") for s in slots] == ["10-24 06:30", "10-25 07:30", "10-26 07:30"]


def test_window_is_half_open():
    slot = berlin(2026, 11, 20, 8, 30)
    assert slots_between("30 8 * * *", "Europe/Berlin", slot, slot + dt.timedelta(hours=1)) == []
    assert slots_between("30 8 * * *", "Europe/Berlin", slot - dt.timedelta(seconds=1), slot) == [slot]


def test_on_time_slot_is_posted():
    now = berlin(2026, 11, 20, 8, 31)
    plan = plan_slots("30 8 * * mon-fri", "Europe/Berlin", GRACE, now, claimed=set())
    assert (plan.post, plan.skip) == (berlin(2026, 11, 20, 8, 30), ())


def test_slot_missed_beyond_grace_is_skipped_and_the_newest_posted():
    now = berlin(2026, 11, 20, 9, 1)
    plan = plan_slots("0 9,17 * * *", "Europe/Berlin", GRACE, now, claimed=set())
    # Yesterday's 17:00 was missed by 16 h (bot down): skipped with a log line, never posted late.
    assert (plan.post, plan.skip) == (berlin(2026, 11, 20, 9, 0), (berlin(2026, 11, 19, 17, 0),))


def test_claimed_slot_is_not_posted_again():
    now = berlin(2026, 11, 20, 8, 31)
    claimed = {berlin(2026, 11, 20, 8, 30), berlin(2026, 11, 19, 8, 30)}
    plan = plan_slots("30 8 * * mon-fri", "Europe/Berlin", GRACE, now, claimed)
    assert (plan.post, plan.skip) == (None, ())


def test_late_within_grace_is_posted_late_and_beyond_grace_is_skipped():
    late = plan_slots("0 9 * * mon", "Europe/Berlin", GRACE, berlin(2026, 11, 23, 11, 59), claimed=set())
    assert late.post == berlin(2026, 11, 23, 9, 0)
    too_late = plan_slots("0 9 * * mon", "Europe/Berlin", GRACE, berlin(2026, 11, 23, 12, 1), claimed=set())
    assert (too_late.post, too_late.skip) == (None, (berlin(2026, 11, 23, 9, 0),))


def test_weekend_has_nothing_to_do():
    plan = plan_slots("0 9 * * mon", "Europe/Berlin", GRACE, berlin(2026, 11, 22, 10, 0), claimed=set())
    assert plan.post is None and plan.skip == ()


def test_slots_due_before_the_bot_first_scheduled_the_channel_are_left_alone():
    since = berlin(2026, 11, 23, 13, 0)  # first start, Monday 13:00: the 09:00 slot was 4 h before
    plan = plan_slots("0 9 * * mon", "Europe/Berlin", GRACE, since, claimed=set(), since=since)
    assert (plan.post, plan.skip) == (None, ())  # not "missed": the bot was not there
    # Every minute since 10:00 until a 10:30 first start: only the latest is the bot's to post.
    since = berlin(2026, 11, 23, 10, 30, 20)
    plan = plan_slots("* * * * *", "Europe/Berlin", GRACE, since, claimed=set(), since=since)
    assert (plan.post, plan.skip) == (berlin(2026, 11, 23, 10, 30), ())


def test_the_last_slot_before_the_first_start_is_posted_within_grace_and_skipped_after():
    since = berlin(2026, 11, 23, 10, 0)  # an hour after Monday's 09:00
    slot = berlin(2026, 11, 23, 9, 0)
    assert plan_slots("0 9 * * mon", "Europe/Berlin", GRACE, since, set(), since=since).post == slot
    # Not posted in time (Jira down since): once past grace it is skipped like any slot the bot missed.
    later = berlin(2026, 11, 23, 12, 1)
    assert plan_slots("0 9 * * mon", "Europe/Berlin", GRACE, later, set(), since=since).skip == (slot,)


def test_slots_after_the_first_start_are_missed_as_before():
    since = berlin(2026, 11, 20, 9, 1)
    now = berlin(2026, 11, 23, 9, 1)  # the bot was down over the weekend
    plan = plan_slots("0 9,17 * * *", "Europe/Berlin", GRACE, now, claimed=set(), since=since)
    assert (plan.post, plan.skip) == (berlin(2026, 11, 23, 9, 0), (berlin(2026, 11, 22, 17, 0),))
