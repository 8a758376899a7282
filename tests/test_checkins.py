"""Check-ins on real SQLite files and a fake clock: what is found in a message, when it is said
(never in quiet hours, never over the day's limit, never in a burst after a clock jump), "not
now", reminders, scoping, forgetting, and words that never guilt or press."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from os1.affect.timeline import MoodReading, MoodTimeline
from os1.checkins.messages import all_variants, clean_about, compose, pressure
from os1.checkins.policy import in_quiet, quiet_end
from os1.checkins.records import Candidate, CheckIn
from os1.checkins.scheduler import CheckIns
from os1.checkins.upcoming import upcoming
from os1.config import Settings
from os1.memory.records import NewFact
from os1.memory.store import MemoryStore
from os1.store.base import Conversation, NewTurn, User
from os1.store.sqlite import SQLiteStore

TZ = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 10, 5, 14, 0, tzinfo=TZ)  # a Monday afternoon
QUIET = (time(22), time(8))
STEP = timedelta(minutes=15)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in October 2026, Berlin time."""
    return datetime(2026, 10, day, hour, minute, tzinfo=TZ)


class World:
    """One SQLite file, one user talking, and a clock that only moves when told."""

    def __init__(self, tmp_path: Path, name: str = "ana", **settings: object) -> None:
        self.store = SQLiteStore(tmp_path / "os1.sqlite3")
        self.settings = Settings(data_dir=tmp_path, **settings)  # type: ignore[arg-type]
        self.checkins = CheckIns(self.store, self.settings)
        self.user = self.store.user(name)
        self.conversation = self.store.new_conversation(self.user)

    def other(self, name: str) -> tuple[User, Conversation]:
        user = self.store.user(name)
        return user, self.store.new_conversation(user)

    def say(self, text: str, moment: datetime, user: User | None = None,
            conversation: Conversation | None = None) -> int:
        turn = self.store.add_turn(user or self.user, NewTurn(
            (conversation or self.conversation).id, "user", text, "", "complete", moment))
        return turn.id

    def run(self, start: datetime, end: datetime, *, reply: bool = False,
            user: User | None = None, conversation: Conversation | None = None,
            step: timedelta = STEP) -> list[CheckIn]:
        """Tick every ``step``; with ``reply`` the user answers each check-in 10 minutes later
        (so the "two unanswered" rule stays out of the way)."""
        said: list[CheckIn] = []
        replies: list[datetime] = []
        now = start
        while now <= end:
            while reply and replies and replies[0] <= now:
                self.say("thanks, it went fine", replies.pop(0), user, conversation)
            for checkin in self.checkins.due(user or self.user, now):
                said.append(checkin)
                replies.append(now + timedelta(minutes=10))
            now += step
        return said


def local(moment: datetime | None) -> datetime:
    assert moment is not None
    return moment.astimezone(TZ)


# -- what is coming: found in one message -------------------------------------------------

POSITIVE = [
    ("I have a job interview on Thursday at 10", "the job interview", at(8, 10), True),
    ("my exam is tomorrow", "the exam", at(6, 0), False),
    ("big presentation this afternoon", "the big presentation", at(5, 14), False),
    ("flying to Lisbon next week", "the trip to Lisbon", at(12, 0), False),
    ("dentist appointment on the 12th", "the dentist appointment", at(12, 0), False),
    ("my sister's wedding on December 3", "your sister's wedding",
     datetime(2026, 12, 3, tzinfo=TZ), False),
    ("date tonight", "the date", at(5, 20), False),
    ("surgery in two days", "the surgery", at(7, 0), False),
    ("I'm so nervous, my interview is tomorrow at 9am!", "the interview", at(6, 9), True),
    ("Wish me luck, I have my driving test on Friday.", "the driving test", at(9, 0), False),
    ("I've got a first date tonight with someone from Hinge", "the first date", at(5, 20),
     False),
    ("I can't wait for the concert on Saturday!", "the concert", at(10, 0), False),
    ("ugh, finals tomorrow", "the finals", at(6, 0), False),
    ("We're flying to Tokyo on the 20th", "the flight to Tokyo", at(20, 0), False),
    ("Trip to Rome this weekend!", "the trip to Rome", at(10, 0), False),
    ("I'm going to Maria's wedding on Saturday", "Maria's wedding", at(10, 0), False),
    ("My doctor's appointment is on October 9 at 3pm", "the doctor's appointment", at(9, 15),
     True),
    ("Big meeting tomorrow morning, I'm stressed", "the big meeting", at(6, 9), False),
    ("my first day at the new job is on Monday", "your first day at the new job", at(12, 0),
     False),
    ("I have a presentation in 3 hours", "the presentation", at(5, 17), True),
    ("I'm off to Paris tomorrow", "the trip to Paris", at(6, 0), False),
    ("What should I wear to my date tonight?", "the date", at(5, 20), False),
    ("i have an interview at 4", "the interview", at(5, 16), True),
    ("My marathon is this weekend", "the marathon", at(10, 0), False),
    ("I have a dentist appointment on 12 October", "the dentist appointment", at(12, 0), False),
    ("my mom's surgery is on Wednesday", "your mom's surgery", at(7, 0), False),
    ("I had a rough week. My exam is tomorrow.", "the exam", at(6, 0), False),
]


@pytest.mark.parametrize(("text", "about", "starts", "has_time"), POSITIVE)
def test_an_upcoming_thing_is_found_with_its_day(text: str, about: str, starts: datetime,
                                                  has_time: bool) -> None:
    found = upcoming(text, MONDAY)
    assert found is not None, text
    assert (found.about, found.starts, found.has_time) == (about, starts, has_time)


NEGATIVE = [
    "I had an interview yesterday",
    "if I ever get an interview",
    "my friend has an interview tomorrow",
    "Tom has a date tonight",
    "My boss has a presentation tomorrow",
    "My sister has an exam tomorrow",
    "She has her wedding on December 3",
    "In the movie they have a wedding on Saturday",
    "Taylor Swift has a concert on Friday",
    "my parents are flying to Lisbon next week",
    "The exam was yesterday and it went fine",
    "The job interview on Thursday went great",
    "I don't have an exam tomorrow",
    "I have no exam tomorrow",
    "There's a wedding on Saturday but I'm not going",
    "my interview got cancelled, it was supposed to be on Thursday",
    "my interview was moved to next week",
    "My flight to Lisbon was last week",
    "I might have a job interview next week",
    "I hope to get an interview next week",
    "I wish I had a date tonight",
    "I'm thinking of applying, the interview would be on Monday",
    "What's the date tomorrow?",
    "I need to update the date tomorrow",
    "I have therapy every Thursday",
    "I usually go to the dentist on the 12th",
    "I'm going to work tomorrow",
    "I have an interview",  # no day
    "interview sometime soon",
    "Remember when I had that interview on Thursday?",
    "I'll race you tomorrow",
    "Exam results tomorrow",
    "wedding dress fitting on Saturday",
    "my exam was this morning",
    "I have an interview this morning",  # said at 14:00: over
    "Next Friday I have an interview",  # said on a Monday: this week's Friday, or next?
    "Are you going to the party on Saturday?",
    "Save the date: my wedding is on June 3",  # eight months away: too far to plan
    "Ich habe morgen ein Vorstellungsgespräch",
]


@pytest.mark.parametrize("text", NEGATIVE)
def test_no_follow_up_for_the_past_the_hypothetical_or_other_peoples(text: str) -> None:
    assert upcoming(text, MONDAY) is None


def test_tomorrow_said_in_the_small_hours_is_the_day_starting() -> None:
    found = upcoming("my exam is tomorrow", at(6, 1, 30))
    assert found is not None and found.starts.date() == date(2026, 10, 6)


# -- a follow-up, from a stored turn to a reasonable hour ----------------------------------


def test_a_follow_up_is_asked_after_the_event_with_the_users_words(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.say("I have a job interview on Thursday at 10", MONDAY)
    said = world.run(MONDAY, at(10, 12))
    assert [c.kind for c in said] == ["follow_up"]  # and no hello for the quiet days after
    checkin = said[0]
    assert local(checkin.sent_at) == at(8, 12, 30)  # 2½ hours after 10:00
    assert "the job interview" in checkin.text and "?" in checkin.text
    assert checkin.trigger_key == "follow_up:turn:1" and checkin.turn_id == 1
    assert world.checkins.inbox(world.user) == [checkin]  # no interface open: it waits
    assert world.checkins.seen(world.user, [checkin.id]) == 1
    assert world.checkins.inbox(world.user) == []


def test_due_is_idempotent_within_one_moment(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.say("my exam is tomorrow", MONDAY)
    first = world.checkins.due(world.user, at(6, 19))
    assert [c.kind for c in first] == ["follow_up"]
    assert world.checkins.due(world.user, at(6, 19)) == first
    assert world.checkins.plan(world.user, at(6, 19)) == 0  # never planned twice


def test_an_evening_thing_is_asked_about_the_next_morning(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.say("date tonight!", at(5, 17))
    world.say("Date at 9 tonight", at(6, 17))
    said = world.run(at(5, 17), at(7, 23))
    times = [local(c.sent_at) for c in said]
    # "tonight" → the next morning at 10; "at 9 tonight" → 23:30 is quiet → 08:00
    assert times == [at(6, 10), at(7, 8)]
    assert all(not in_quiet(t, QUIET) for t in times)


def test_quiet_hours_cross_midnight() -> None:
    assert in_quiet(at(5, 23), QUIET) and in_quiet(at(6, 3), QUIET)
    assert in_quiet(at(6, 7, 59), QUIET)
    assert not in_quiet(at(6, 8), QUIET) and not in_quiet(at(5, 21, 59), QUIET)
    assert quiet_end(at(5, 23), QUIET) == at(6, 8)  # the evening part: tomorrow morning
    assert quiet_end(at(6, 3), QUIET) == at(6, 8)
    assert quiet_end(at(6, 12), QUIET) == at(6, 12)
    daytime = (time(13), time(15))
    assert in_quiet(at(6, 14), daytime) and not in_quiet(at(6, 15), daytime)
    assert quiet_end(at(6, 14), daytime) == at(6, 15)


def test_the_day_limit_and_the_gap_hold(tmp_path: Path) -> None:
    world = World(tmp_path)
    for text in ("my exam is tomorrow", "I have a dentist appointment tomorrow",
                 "big presentation tomorrow", "my driving test is tomorrow"):
        world.say(text, MONDAY)
    said = world.run(MONDAY, at(10, 12), reply=True)
    per_day: dict[date, int] = {}
    for checkin in said:
        per_day[local(checkin.sent_at).date()] = per_day.get(local(checkin.sent_at).date(), 0) + 1
    assert max(per_day.values()) == 2  # checkins_per_day = 2
    moments = sorted(local(c.sent_at) for c in said)
    assert all(b - a >= timedelta(hours=2) for a, b in pairwise(moments))
    assert not any(in_quiet(m, QUIET) for m in moments)
    follow_ups = [c for c in said if c.kind == "follow_up"]
    assert len(follow_ups) == 4  # two on Tuesday evening, two on Wednesday: none lost
    assert all(local(c.sent_at) < local(c.expires_at) for c in follow_ups)


def test_two_unanswered_check_ins_and_os1_waits_for_the_user(tmp_path: Path) -> None:
    world = World(tmp_path)
    for text in ("my exam is tomorrow", "I have a dentist appointment tomorrow",
                 "big presentation tomorrow"):
        world.say(text, MONDAY)
    said = world.run(MONDAY, at(12, 12), step=timedelta(hours=1))  # the user never answers
    assert len(said) == 2
    statuses = world.store.run(lambda db: sorted(
        r[0] for r in db.execute("SELECT status FROM checkins").fetchall()))
    assert statuses == ["expired", "sent", "sent"]  # the third waited, then went stale


def test_a_long_silence_gets_one_hello(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.say("hi, just testing", MONDAY)
    said = world.run(MONDAY, at(15, 12), step=timedelta(hours=1))
    assert [(c.kind, local(c.sent_at)) for c in said] == [("silence", at(8, 14))]
    assert "hello" in said[0].text.lower() and pressure(said[0].text) == ""


def test_not_now_dismisses_and_pauses_until_the_morning(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.say("my exam is tomorrow", MONDAY)
    world.say("I have a dentist appointment tomorrow", MONDAY)
    first = world.run(MONDAY, at(6, 19))
    assert len(first) == 1
    until = world.checkins.not_now(world.user, at(6, 19, 5))
    assert until == at(7, 8)  # after tonight's quiet hours
    assert world.checkins.inbox(world.user) == []  # dismissed
    assert world.run(at(6, 19, 15), at(7, 7, 45)) == []  # paused, though one is due
    later = world.run(at(7, 8), at(7, 12))
    assert [c.kind for c in later] == ["follow_up"] and local(later[0].sent_at) == at(7, 8)
    with pytest.raises(ValueError, match="positive"):
        world.checkins.not_now(world.user, at(7, 9), hours=0)
    assert world.checkins.not_now(world.user, at(7, 9), hours=3) == at(7, 12)


def test_a_week_long_clock_jump_gives_no_burst(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.say("my exam is tomorrow", MONDAY)
    world.say("big presentation on Wednesday", MONDAY)
    world.say("I have a job interview on Friday at 11", MONDAY)
    world.say("flying to Lisbon on the 12th", MONDAY)
    MemoryStore(world.store).add_fact(world.user, NewFact(
        "fact", "The user's birthday is October 8.", attribute="birthday", value="October 8"),
        None, MONDAY)
    world.checkins.due(world.user, MONDAY)  # one tick, then the laptop sleeps a week
    woke = at(12, 21)
    said = world.run(woke, at(15, 23), reply=True)
    first = [c for c in said if local(c.sent_at) == woke]
    assert len(first) <= 1
    stale = {c.about for c in said} & {"the exam", "the big presentation", "your birthday"}
    assert not stale  # their moment passed while it slept: expired, never said
    assert sum(1 for c in said if c.kind == "silence") == 1  # one hello for the whole silence
    per_day: dict[date, int] = {}
    for checkin in said:
        per_day[local(checkin.sent_at).date()] = per_day.get(local(checkin.sent_at).date(), 0) + 1
    assert max(per_day.values()) <= 2
    statuses = world.store.run(lambda db: dict(db.execute(
        "SELECT about, status FROM checkins WHERE kind = 'follow_up'").fetchall()))
    assert statuses["the exam"] == "expired" and statuses["the big presentation"] == "expired"


def test_user_b_never_sees_user_as(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.say("my exam is tomorrow", MONDAY)
    bob, bobs = world.other("bob")
    world.say("hello there", MONDAY, bob, bobs)
    said = world.run(MONDAY, at(6, 21))
    assert [c.kind for c in said] == ["follow_up"]
    assert world.run(MONDAY, at(6, 21), user=bob) == []
    assert world.checkins.inbox(bob) == [] and world.checkins.pending(bob) == []
    assert world.checkins.seen(bob, [said[0].id]) == 0  # not his to mark
    world.checkins.not_now(bob, at(6, 21))
    assert [c.status for c in world.checkins.inbox(world.user)] == ["sent"]
    with pytest.raises(ValueError, match="not one of"):
        world.checkins.schedule(bob, Candidate("reminder", "r:1", "x", at(7, 9), at(7, 10),
                                               turn_id=1))


def test_forgetting_the_source_turn_removes_its_check_in(tmp_path: Path) -> None:
    world = World(tmp_path)
    turn_id = world.say("my sister's wedding on Saturday", MONDAY)
    world.checkins.plan(world.user, MONDAY)
    assert [c.about for c in world.checkins.pending(world.user)] == ["your sister's wedding"]
    world.store.run(lambda db: db.execute("DELETE FROM turns WHERE id = ?", (turn_id,)))
    assert world.checkins.pending(world.user) == []
    left = world.store.run(lambda db: db.execute("SELECT COUNT(*) FROM checkins").fetchone())
    assert left[0] == 0


def test_a_follow_up_is_not_asked_when_the_user_already_told(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.say("my exam is tomorrow", MONDAY)
    world.say("The exam went well, I think!", at(6, 15))
    assert world.run(MONDAY, at(8, 12)) == []


def test_memory_gives_dates_and_events(tmp_path: Path) -> None:
    world = World(tmp_path)
    memory = MemoryStore(world.store)
    memory.add_fact(world.user, NewFact("fact", "Maria's birthday is on 7 October.",
                                        subject="Maria", relation="sister",
                                        attribute="birthday", value="7 October"), None, MONDAY)
    memory.add_fact(world.user, NewFact("event", "The user has a job interview.",
                                        attribute="plans", value="job interview",
                                        occurred_at=datetime(2026, 10, 9, tzinfo=TZ)),
                    None, MONDAY)
    said = world.run(MONDAY, at(10, 12), reply=True)
    assert [(c.kind, c.about, local(c.sent_at)) for c in said] == [
        ("date", "Maria's birthday", at(7, 10)),
        ("follow_up", "the job interview", at(9, 19)),
    ]
    assert said[0].trigger_key.startswith("date:memory:") and said[0].trigger_key.endswith(":2026")


def test_a_memory_event_from_a_turn_already_followed_up_is_skipped(tmp_path: Path) -> None:
    world = World(tmp_path)
    turn_id = world.say("I have a job interview on Friday", MONDAY)
    world.checkins.plan(world.user, MONDAY)
    MemoryStore(world.store).add_fact(world.user, NewFact(
        "event", "The user has a job interview on Friday.", value="job interview",
        occurred_at=datetime(2026, 10, 9, tzinfo=TZ), sources=(turn_id,)), None, MONDAY)
    assert world.checkins.plan(world.user, MONDAY + timedelta(minutes=15)) == 0
    assert [c.trigger_key for c in world.checkins.pending(world.user)] == [
        f"follow_up:turn:{turn_id}"]


def test_three_low_days_bring_one_gentle_check_in(tmp_path: Path) -> None:
    world = World(tmp_path)
    timeline = MoodTimeline(world.store)
    for day in (5, 6, 7):
        turn_id = world.say("rough day", at(day, 20))
        timeline.add(world.user, MoodReading(at(day, 20), -0.6, 0.3, 0.8, ("sadness",), "text",
                                             turn_id=turn_id))
    said = world.run(at(5, 20, 15), at(9, 23))
    assert [(c.kind, local(c.sent_at)) for c in said] == [("low_mood", at(8, 10))]
    assert said[0].trigger_key == "low_mood:2026-10-05" and not pressure(said[0].text)


def test_a_reminder_fires_at_the_hour_the_user_set_even_in_quiet_hours(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.say("hi", MONDAY)
    reminder = world.checkins.schedule(world.user, Candidate(
        "reminder", "reminder:pills:1", "take your pills", at(5, 23), at(6, 11)), MONDAY)
    assert reminder.status == "pending" and reminder.text.endswith("take your pills.")
    late = world.checkins.schedule(world.user, Candidate(
        "reminder", "reminder:call:1", "call mum", at(6, 2), at(6, 20)), MONDAY)
    assert world.checkins.due(world.user, at(5, 23)) == [
        world.checkins.inbox(world.user)[0]]
    # The laptop slept through 02:00: a late reminder waits for the morning like the rest.
    assert world.checkins.due(world.user, at(6, 7)) == []
    said = world.checkins.due(world.user, at(6, 8))
    assert [c.id for c in said] == [late.id]
    assert world.checkins.schedule(world.user, Candidate(
        "reminder", "reminder:call:1", "call mum", at(6, 2), at(6, 20))).id == late.id


def test_with_checkins_off_only_reminders_come(tmp_path: Path) -> None:
    world = World(tmp_path, checkins=False)
    world.say("my exam is tomorrow", MONDAY)
    assert world.checkins.plan(world.user, MONDAY) == 0
    world.checkins.schedule(world.user, Candidate("reminder", "reminder:1", "stretch",
                                                  at(6, 12), at(6, 13)))
    said = world.run(MONDAY, at(12, 12), step=timedelta(hours=1))
    assert [c.kind for c in said] == ["reminder"]


def test_times_must_carry_a_timezone(tmp_path: Path) -> None:
    world = World(tmp_path)
    with pytest.raises(ValueError, match="timezone"):
        world.checkins.due(world.user, datetime(2026, 10, 5, 12))


# -- the words -------------------------------------------------------------------------------


def test_every_variant_is_free_of_guilt_fomo_and_pressure() -> None:
    for text in all_variants():
        assert pressure(text) == "", text
    for kind, about in (("follow_up", "the job interview"), ("date", "your birthday"),
                        ("low_mood", ""), ("silence", ""), ("reminder", "call mum"),
                        ("follow_up", "")):
        for key in range(12):
            assert pressure(compose(kind, f"{kind}:{key}", about)) == ""  # type: ignore[arg-type]


BAD = [
    "You haven't talked to me in days.",
    "I missed you so much!",
    "Where have you been?",
    "I was lonely without you.",
    "I've been so lonely.",
    "You're missing out on our chats.",
    "Tell me before it's too late!",
    "Last chance to tell me about it.",
    "Please reply when you see this.",
    "I'll be waiting for your answer.",
    "Why didn't you write back?",
    "You forgot about me.",
    "It's been so long!",
    "Are you still there?",
    "Don't leave me hanging.",
    "Hello?? Anyone?",
    "You never talk to me anymore.",
    "Before you go, one more thing about the interview.",
]


@pytest.mark.parametrize("text", BAD)
def test_guilt_fomo_and_pressure_are_caught(text: str) -> None:
    assert pressure(text) != ""


def test_the_users_words_are_cleaned_before_they_are_said() -> None:
    about = "the interview\n\x1b[31m<b>ignore this</b> " + "very " * 30
    cleaned = clean_about(about)
    assert "\n" not in cleaned and "\x1b" not in cleaned and "<" not in cleaned
    assert len(cleaned) <= 60
    assert compose("follow_up", "k", "  \n ") == "Hi! I hope the thing you mentioned went well."


def test_a_turn_stamped_just_before_the_last_tick_is_still_read(tmp_path: Path) -> None:
    """A turn is stamped before it is stored: one that lands just after a tick is read at
    the next one (turns are read from the last tick on, with an hour's overlap)."""
    world = World(tmp_path)
    world.checkins.due(world.user, MONDAY)
    world.say("my exam is tomorrow", MONDAY - timedelta(minutes=5))
    assert world.checkins.plan(world.user, MONDAY + STEP) == 1


# Six follow-ups, all due from Tuesday evening: enough to fill a day of three.
EVENTS_TOMORROW = ("my exam is tomorrow", "I have a dentist appointment tomorrow",
                   "big presentation tomorrow", "my driving test is tomorrow",
                   "the interview is tomorrow", "my recital is tomorrow")


def test_on_a_server_each_users_interview_answer_sets_their_day_limit(tmp_path: Path) -> None:
    # The config says 2 a day; Ana said she is private (1 a day), Ben social (3 a day).
    world = World(tmp_path)
    world.checkins = CheckIns(world.store, world.settings, users_choose=True)
    ben, bens_conversation = world.other("ben")
    for user, style in ((world.user, "private"), (ben, "social")):
        world.store.run(lambda db, user=user, style=style: db.execute(
            "INSERT INTO onboarding (user_id, question, answer, status, at) "
            "VALUES (?, 'social', ?, 'answered', ?)", (user.id, style, MONDAY.isoformat())))
    for text in EVENTS_TOMORROW:
        world.say(text, MONDAY)
        world.say(text, MONDAY, ben, bens_conversation)

    def most_in_a_day(said: list[CheckIn]) -> int:
        days = [local(c.sent_at).date() for c in said]
        return max(days.count(day) for day in days)

    assert most_in_a_day(world.run(MONDAY, at(10, 12), reply=True)) == 1
    assert most_in_a_day(world.run(MONDAY, at(10, 12), reply=True, user=ben,
                                   conversation=bens_conversation)) == 3
    # One person's os1 (no users_choose): the config's number rules, as `os1 setup` wrote it.
    carl, carls_conversation = world.other("carl")
    world.store.run(lambda db: db.execute(
        "INSERT INTO onboarding (user_id, question, answer, status, at) "
        "VALUES (?, 'social', 'private', 'answered', ?)", (carl.id, MONDAY.isoformat())))
    for text in EVENTS_TOMORROW:
        world.say(text, MONDAY, carl, carls_conversation)
    world.checkins = CheckIns(world.store, world.settings)
    assert most_in_a_day(world.run(MONDAY, at(10, 12), reply=True, user=carl,
                                   conversation=carls_conversation)) == 2
