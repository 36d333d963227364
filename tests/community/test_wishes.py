"""Micro-wishes' domain actions: the status machine (one table, illegal steps refused
with a clear message), a complete timeline (one event per step, in order, with its
actor), target groups from the person's tags, the stalled-claim reminder (once per
period), and escalation opening a real case whose closing comes back to the wish."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from jiayuan.cases import services as case_services
from jiayuan.cases.models import Case
from jiayuan.community import wishes
from jiayuan.community.choices import WishStatus
from jiayuan.community.models import Photo, Wish, WishEvent
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.incidents import is_incident_key
from jiayuan.core.models import AuditEntry, Notification
from jiayuan.people.models import PersonTag, Tag

from .conftest import Compounds, jpeg

pytestmark = pytest.mark.django_db
S = WishStatus


def photo() -> SimpleUploadedFile:
    return SimpleUploadedFile("done.jpg", jpeg(gps=True), content_type="image/jpeg")


def collect(users: dict[str, Any], c: Compounds, who: str = "grid", **kw: Any) -> Wish:
    kw.setdefault("channel", "door")
    kw.setdefault("title", "想要一台电风扇")
    kw.setdefault("category", "daily")
    kw.setdefault("beneficiary", c.neighbour)
    return wishes.collect(actor=users[who], **kw)


def test_a_wish_walks_collect_claim_fulfil_thank_with_one_event_per_step(
    users: dict[str, Any], compounds: Compounds, media: Any
) -> None:
    # given a wish collected on a door-knocking visit by the grid worker
    wish = collect(users, compounds)
    assert wish.number.startswith(f"WY{timezone.localdate():%Y}") and len(wish.number) == 12
    assert wish.status == S.COLLECTED and wish.area_path.startswith(compounds.grid.path)
    # when the branch secretary has it claimed, the grid worker fulfils it with a photo
    # and the community records the thanks
    due = timezone.localdate() + dt.timedelta(days=5)
    wishes.claim(
        wish, actor=users["branch"], claimer_kind="unit", claimer_name="县供电公司", due_on=due
    )
    wishes.fulfil(wish.pk, actor=users["grid"], photo=photo(), note="已送到家中")
    step = wishes.thank(wish.pk, actor=users["community"], thanks="感谢党和政府！")
    # then the wish is thanked, and its timeline holds each step once, in order, by whom
    wish = step.wish
    assert wish.status == S.THANKED and wish.thanks == "感谢党和政府！"
    assert wish.claimer_name == "县供电公司" and wish.due_on == due
    events = list(WishEvent.objects.filter(wish=wish).order_by("at", "pk"))
    assert [e.kind for e in events] == ["collected", "claimed", "fulfilled", "thanked"]
    assert [e.actor for e in events] == [
        users["grid"], users["branch"], users["grid"], users["community"]
    ]  # fmt: skip
    assert all(e.actor_name for e in events)
    # and the fulfilment's photo is kept, cleaned of its EXIF, and every change audited
    (kept,) = Photo.objects.filter(wish=wish)
    assert kept.area_path == wish.area_path and kept.content_type == "image/jpeg"
    assert b"Exif" not in kept.file.read()
    assert events[2].data["photo"] == kept.pk
    audited = AuditEntry.objects.filter(object_type="community.wish", object_id=str(wish.pk))
    assert audited.count() == 4


@pytest.mark.parametrize(
    ("path", "action"),
    [
        ([], "fulfil"),
        ([], "thank"),
        (["claim"], "claim"),
        (["claim"], "thank"),
        (["cancel"], "claim"),
        (["cancel"], "escalate"),
        (["cancel"], "cancel"),
        (["claim", "fulfil"], "cancel"),
        (["claim", "fulfil"], "escalate"),
        (["claim", "fulfil", "thank"], "thank"),
    ],
)
def test_an_illegal_step_is_refused_with_a_clear_message(
    users: dict[str, Any], compounds: Compounds, media: Any, path: list[str], action: str
) -> None:
    wish = collect(users, compounds)
    actor = users["community"]
    run = {
        "claim": lambda: wishes.claim(wish.pk, actor=actor, claimer_kind="volunteer",
                                      claimer_name="志愿者小李"),
        "fulfil": lambda: wishes.fulfil(wish.pk, actor=actor, photo=photo()),
        "thank": lambda: wishes.thank(wish.pk, actor=actor),
        "cancel": lambda: wishes.cancel(wish.pk, actor=actor),
        "escalate": lambda: wishes.escalate(wish.pk, actor=actor),
    }  # fmt: skip
    for step in path:
        run[step]()
    before = Wish.objects.get(pk=wish.pk)
    events = WishEvent.objects.filter(wish=wish).count()
    with pytest.raises(Conflict) as refused:
        run[action]()
    assert "心愿当前" in refused.value.zh and "cannot be" in refused.value.en
    after = Wish.objects.get(pk=wish.pk)
    assert after.status == before.status
    assert WishEvent.objects.filter(wish=wish).count() == events


def test_the_table_allows_exactly_these_steps() -> None:
    allowed = {a: sorted(src) for a, (src, _t) in wishes.TRANSITIONS.items()}
    assert allowed == {
        "claim": ["collected"],
        "fulfil": ["claimed"],
        "thank": ["fulfilled"],
        "cancel": ["claimed", "collected"],
        "escalate": ["claimed", "collected"],
    }


def test_fulfilling_needs_a_photo_and_a_real_image(
    users: dict[str, Any], compounds: Compounds, media: Any
) -> None:
    wish = collect(users, compounds)
    wishes.claim(wish.pk, actor=users["grid"], claimer_kind="volunteer", claimer_name="小李")
    with pytest.raises(ValidationFailed, match="照片"):
        wishes.fulfil(wish.pk, actor=users["grid"], photo=None)
    fake = SimpleUploadedFile("x.jpg", b"<?php echo 1; ?>", content_type="image/jpeg")
    with pytest.raises(ValidationFailed) as refused:
        wishes.fulfil(wish.pk, actor=users["grid"], photo=fake)
    assert refused.value.field == "file"
    assert Wish.objects.get(pk=wish.pk).status == S.CLAIMED
    assert not Photo.objects.filter(wish=wish).exists()


def test_target_groups_come_from_the_persons_tags(
    users: dict[str, Any], compounds: Compounds
) -> None:
    person = compounds.neighbour
    PersonTag.objects.filter(person=person).delete()
    for code in ("独居老人", "高龄老人", "退役军人"):
        PersonTag.objects.create(person=person, tag=Tag.objects.get(code=code))
    ended = PersonTag.objects.create(
        person=person, tag=Tag.objects.get(code="空巢老人"),
        valid_until=timezone.localdate() - dt.timedelta(days=1),
    )  # fmt: skip
    assert ended.valid_until
    wish = collect(users, compounds, beneficiary=person)
    assert wish.target_groups == ["高龄", "独居"]
    assert WishEvent.objects.get(wish=wish).data["target_groups"] == ["高龄", "独居"]


def test_numbers_are_unique_and_follow_each_other(
    users: dict[str, Any], compounds: Compounds
) -> None:
    first = collect(users, compounds)
    second = collect(users, compounds, title="需要一个新书包", category="study")
    assert int(second.number[6:]) == int(first.number[6:]) + 1


def test_a_resident_makes_a_wish_for_themself_only(
    users: dict[str, Any], compounds: Compounds
) -> None:
    wish = wishes.collect(
        actor=users["resident"], channel="resident", title="想学用智能手机", category="skill"
    )
    assert wish.beneficiary == compounds.resident and wish.created_by == users["resident"]
    with pytest.raises(ValidationFailed):
        wishes.collect(
            actor=users["resident"], channel="resident", title="x", category="daily",
            beneficiary=compounds.neighbour,
        )  # fmt: skip
    # and a resident cannot pose as staff on the door-knocking channel
    with pytest.raises(NotFound):
        collect(users, compounds, who="resident")


def test_staff_collect_only_inside_their_area(users: dict[str, Any], compounds: Compounds) -> None:
    with pytest.raises(NotFound):
        collect(users, compounds, who="grid", beneficiary=compounds.stranger)
    with pytest.raises(NotFound):
        collect(users, compounds, who="branch", beneficiary=None, area=compounds.far)
    wish = collect(users, compounds, who="community", beneficiary=None, area=compounds.sibling)
    assert wish.area == compounds.sibling and wish.beneficiary is None


@pytest.mark.parametrize("text", ["", "   ", "x" * 101, "bad\x00byte", "lone \ud800 surrogate"])
def test_hostile_titles_are_refused(users: dict[str, Any], compounds: Compounds, text: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        collect(users, compounds, title=text)
    assert refused.value.field == "title"


def test_a_resident_thanks_for_their_own_wish_and_cancels_it_only_before_a_claim(
    users: dict[str, Any], compounds: Compounds, media: Any
) -> None:
    mine = wishes.collect(
        actor=users["resident"], channel="resident", title="想要一盏护眼台灯", category="study"
    )
    assert wishes.allowed_actions(users["resident"], mine) == ["cancel"]
    wishes.claim(mine.pk, actor=users["grid"], claimer_kind="volunteer", claimer_name="小王")
    with pytest.raises(PermissionDenied):
        wishes.cancel(mine.pk, actor=users["resident"])
    wishes.fulfil(mine.pk, actor=users["grid"], photo=photo())
    step = wishes.thank(mine.pk, actor=users["resident"], thanks="谢谢小王")
    assert step.event.actor == users["resident"] and step.wish.status == S.THANKED
    # another resident's wish: the resident may not thank for it
    other = collect(users, compounds)
    wishes.claim(other.pk, actor=users["grid"], claimer_kind="volunteer", claimer_name="小王")
    wishes.fulfil(other.pk, actor=users["grid"], photo=photo())
    with pytest.raises(PermissionDenied):
        wishes.thank(other.pk, actor=users["resident"])


def test_a_resident_party_member_claims_and_fulfils_in_their_compound(
    users: dict[str, Any], compounds: Compounds, media: Any
) -> None:
    member = compounds.resident
    member.political_status = "party_member"
    member.save(update_fields=["political_status"])
    user = users["resident"]
    wish = collect(users, compounds)
    assert "claim" in wishes.allowed_actions(user, wish)
    step = wishes.claim(wish.pk, actor=user, claimer_name="冒名单位")
    assert step.wish.claimer == member and step.wish.claimer_kind == "party_member"
    assert step.wish.claimer_name == member.name
    wishes.fulfil(wish.pk, actor=user, photo=photo())
    assert Wish.objects.get(pk=wish.pk).status == S.FULFILLED
    # a wish of another compound is not theirs to see, let alone claim
    far = wishes.collect(
        actor=users["community"], channel="wechat", title="求助", category="care",
        area=compounds.sibling,
    )  # fmt: skip
    with pytest.raises(NotFound):
        wishes.claim(far.pk, actor=user)


def test_a_resident_who_is_no_party_member_may_not_claim(
    users: dict[str, Any], compounds: Compounds
) -> None:
    member = compounds.resident
    member.political_status = "masses"
    member.save(update_fields=["political_status"])
    wish = collect(users, compounds)
    with pytest.raises(PermissionDenied):
        wishes.claim(wish.pk, actor=users["resident"])


@pytest.mark.parametrize("days", [-1, 400])
def test_a_due_date_in_the_past_or_beyond_a_year_is_refused(
    users: dict[str, Any], compounds: Compounds, days: int
) -> None:
    wish = collect(users, compounds)
    with pytest.raises(ValidationFailed) as refused:
        wishes.claim(
            wish.pk, actor=users["grid"], claimer_kind="unit", claimer_name="单位",
            due_on=timezone.localdate() + dt.timedelta(days=days),
        )  # fmt: skip
    assert refused.value.field == "due_on"


# --- reminders -----------------------------------------------------------------------------
def stall(wish: Wish, *, claimed_days_ago: int, due_days_ago: int | None) -> None:
    now = timezone.now()
    Wish.objects.filter(pk=wish.pk).update(
        claimed_at=now - dt.timedelta(days=claimed_days_ago),
        due_on=None
        if due_days_ago is None
        else timezone.localdate() - dt.timedelta(days=due_days_ago),
    )


def test_a_stalled_claim_is_reminded_once_per_period(
    users: dict[str, Any], compounds: Compounds
) -> None:
    # given a claimer with an account, and three claims: overdue, undated and old, fresh
    claimer = compounds.resident
    late = collect(users, compounds)
    wishes.claim(late.pk, actor=users["grid"], claimer_kind="party_member", claimer=claimer)
    stall(late, claimed_days_ago=10, due_days_ago=3)
    undated = collect(users, compounds, title="需要一辆助行车")
    wishes.claim(undated.pk, actor=users["grid"], claimer_kind="unit", claimer_name="某单位")
    stall(undated, claimed_days_ago=8, due_days_ago=None)
    fresh = collect(users, compounds, title="想换一个电饭煲")
    wishes.claim(fresh.pk, actor=users["grid"], claimer_kind="unit", claimer_name="某单位")
    Notification.objects.all().delete()
    # when the periodic task runs
    assert wishes.remind_stalled() == 2
    # then the claimer, the branch secretary and the community staff are told, once each
    notices = Notification.objects.filter(kind="wish_stalled")
    told = {(n.user.username, n.ref) for n in notices}
    assert told == {
        ("resident", late.number), ("branch", late.number), ("community", late.number),
        ("branch", undated.number), ("community", undated.number),
    }  # fmt: skip
    assert Wish.objects.get(pk=late.pk).reminded_at is not None
    assert Wish.objects.get(pk=fresh.pk).reminded_at is None
    assert WishEvent.objects.filter(wish=late, kind="reminded").count() == 1
    # and running again (the task runs four times a day) sends nothing more
    assert wishes.remind_stalled() == 0
    assert wishes.remind_stalled(timezone.now() + dt.timedelta(days=3)) == 0
    assert notices.count() == 5
    # until the period has passed (by then the fresh claim has stalled too)
    assert wishes.remind_stalled(timezone.now() + dt.timedelta(days=8)) == 3


def test_the_periodic_task_is_registered() -> None:
    from jiayuan.community import tasks

    assert tasks.remind_stalled_wishes.call_local() == 0


# --- escalation through the incident bridge --------------------------------------------------
@pytest.mark.parametrize(("channel", "case_channel"), [
    ("door", "door"), ("wechat", "wechat"), ("staff", "consultation"),
])  # fmt: skip
def test_escalating_opens_a_real_case_whose_closing_comes_back(
    users: dict[str, Any], compounds: Compounds, channel: str, case_channel: str
) -> None:
    # given a wish the community cannot meet alone
    wish = collect(users, compounds, channel=channel, category="repair", title="楼道灯坏了")
    # when the community escalates it
    step = wishes.escalate(wish.pk, actor=users["community"], reason="需要街道协调")
    # then a case is opened for it on the wish's channel, its number kept on the wish
    wish = step.wish
    assert wish.status == S.ESCALATED and wish.case_number
    case = Case.objects.get(number=wish.case_number)
    assert case.source_ref == f"wish:{wish.pk}" and case.channel == case_channel
    assert is_incident_key(case.source_ref)
    assert step.event.data["case_number"] == case.number
    # and when the case is finished, the wish's timeline records it
    case_services.perform(case.pk, "reject", actor=users["admin"], reason="已由街道统一维修")
    closed = WishEvent.objects.filter(wish=wish, kind="case_closed").get()
    assert closed.data == {"case_number": case.number, "outcome": "rejected"}
    assert case.number in closed.note
    kinds = list(WishEvent.objects.filter(wish=wish).values_list("kind", flat=True))
    assert kinds == ["collected", "escalated", "case_closed"]


def test_a_foreign_incident_key_leaves_wishes_alone(
    users: dict[str, Any], compounds: Compounds
) -> None:
    wish = collect(users, compounds)
    wishes.on_incident_closed(None, key=f"alarm:{wish.pk}", number="X", outcome="closed")
    wishes.on_incident_closed(None, key=f"wish:{wish.pk}", number="", outcome="closed")
    wishes.on_incident_closed(None, key="wish:abc", number="X", outcome="closed")
    assert list(WishEvent.objects.filter(wish=wish).values_list("kind", flat=True)) == [
        "collected", "case_closed"
    ]  # fmt: skip


def test_only_incident_keys_close_incidents(users: dict[str, Any], compounds: Compounds) -> None:
    # A 12345 order number or an Open311 client's name is a source reference, not an
    # incident: finishing such a case tells nobody.
    from jiayuan.cases.models import Category
    from jiayuan.core.incidents import incident_closed, raise_incident

    heard: list[str] = []

    def listen(sender: Any, *, key: str, **_: Any) -> None:
        heard.append(key)

    incident_closed.connect(listen, dispatch_uid="test-wish-keys")
    try:
        for ref in ("12345-0001", "open311:city-app", "wish:"):
            case = case_services.intake(
                actor=None, channel="hotline", category=Category.objects.get(code="10"),
                description="咨询", grid=compounds.grid, source_ref=ref,
            )  # fmt: skip
            case_services.perform(case.pk, "reject", actor=users["admin"], reason="重复")
        assert heard == []
        assert not is_incident_key("12345-0001") and is_incident_key("wish:1")
        with pytest.raises(ValidationFailed):
            raise_incident(
                None, key="wish:1", category_code="10", title="t", description="d",
                area=compounds.grid, channel="carrier-pigeon",
            )  # fmt: skip
    finally:
        incident_closed.disconnect(dispatch_uid="test-wish-keys")
