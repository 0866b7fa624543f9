"""Retention and erasure (UU 27/2022): `aduan privacy purge` leaves nothing personal in any
table or file for a case past retention while the report figures stay; erasure on request
asks, records who and why; export gives a citizen their own data; /hapus from the chat."""
import itertools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import MetaData, select

from bot.cli import Context, _Group
from bot.cli.privacy import privacy_group
from flows.messages import Attachment
from storage import chat_sessions
from storage.db import transaction
from storage.models import Case, CaseEvent, Citizen, PrivacyRequest
from storage.models_survey import SurveyResponse
from storage.reporting import figures
from storage.units import add_unit
from tests.chat import Chat, enrol
from tests.conftest import wib
from tests.test_officer_files import PNG

NAME, EMAIL, PHONE, DIGITS = "Rukmini Sastrowardoyo", "rukmini.s@contoh.id", "081398765432", "81398765432"
TEXT = "Jembatan Kali Anyar retak parah dekat rumah nomor 17"
REASON = "Retakan di sisi timur belum ditambal"
ANSWER = "Sudah ditambal, Ibu Rukmini"
COMMENT = "Pak Darmo sangat membantu kami"
CHAT_ID, FILENAME = "w-rukmini-7f3a", "rumah-rukmini.png"
SECRETS = [NAME, "Rukmini", EMAIL, DIGITS, TEXT, "Kali Anyar", REASON, ANSWER, COMMENT, CHAT_ID, FILENAME]
_ids = itertools.count(1)


class WebChat(Chat):
    """Message ids as the web chat page makes them: the visitor's id and a counter."""

    def say(self, text=None, **kw):
        kw.setdefault("message_id", f"{self.chat_id}:{next(_ids)}")
        return super().say(text, **kw)


@pytest.fixture
def clock():
    return [wib(2025, 4, 8, 9, 0)]


@pytest.fixture
def runtime(make_runtime, clock, tmp_path):
    rt = make_runtime(clock=lambda: clock[0], survey={"skm": True},
                      office={"contacts": "pengaduan@contoh.go.id"},
                      intake={"attachments_dir": str(tmp_path / "files")},
                      email={"host": "127.0.0.1", "from_address": "aduan@contoh.go.id"})
    with transaction(rt.sessions) as s:
        add_unit(s, "KEU", "Keuangan")
    return rt


def cli(runtime, *args, input=None):
    """`aduan privacy ...` on this runtime (its clock): the real group under the same error
    handling as `aduan` itself."""
    ctx = Context(None)
    ctx._runtime = runtime
    aduan = _Group(commands={"privacy": privacy_group})
    return CliRunner().invoke(aduan, ["privacy", *args], obj=ctx, input=input)


def file_with_photo(runtime, chat_id=CHAT_ID, channel="webchat") -> tuple[Chat, str]:
    chat = WebChat(runtime, channel=channel, chat_id=chat_id)
    chat.say("/mulai")
    chat.choose("agree")
    chat.choose("file")
    chat.say(NAME)
    chat.say(EMAIL)
    chat.say(PHONE)  # asked on WhatsApp too: this office has no WhatsApp number of its own set
    chat.choose("pengaduan")
    if runtime.conversation.office.categories:
        chat.say("1")
    chat.say(TEXT)
    if channel == "webchat":
        ref = runtime.uploads.put(PNG)
        chat.say(attachments=[Attachment("photo", ref, "image/png", len(PNG), FILENAME)])
    chat.choose("next")
    chat.choose("biasa")
    ticket = chat.choose("submit")[0].split("nomor tiket ")[1].split(".")[0]
    return chat, ticket


def closed_case(runtime, chat_id=CHAT_ID) -> tuple[Chat, str]:
    """Filed with a photo (fetched to disk), answered, reopened with a reason, answered
    again, accepted, rated with a comment and the SKM survey: everything a case can hold."""
    chat, ticket = file_with_photo(runtime, chat_id)
    assert runtime.outbound.fetcher.run_once() == 1
    admin = enrol(runtime, "admin", chat_id=f"w-admin-{next(_ids)}")
    unit = enrol(runtime, "unit_officer", "KEU", chat_id=f"w-unit-{next(_ids)}")
    admin.say(f"/disposisi {ticket} KEU")
    unit.say(f"/proses {ticket}")
    unit.say(f"/jawab {ticket} {ANSWER}")
    chat.choose(f"c|not_resolved|{ticket}")
    chat.say(REASON)
    unit.say(f"/jawab {ticket} {ANSWER}")
    chat.choose(f"c|accept|{ticket}")
    chat.say("4")
    chat.say(COMMENT)
    chat.choose("skm|skip_profile")
    for _ in range(9):
        chat.say("3")
    with runtime.sessions() as s:
        assert s.scalar(select(Case.state).where(Case.ticket == ticket)) == "closed"
    return chat, ticket


def dump(runtime) -> str:
    """Every column of every row of every table, as text."""
    meta = MetaData()
    meta.reflect(runtime.engine)
    with runtime.engine.connect() as c:
        return "\n".join(f"{t.name}: {tuple(row)!r}" for t in meta.sorted_tables for row in c.execute(t.select()))


def files(tmp_path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in (tmp_path / "files").rglob("*") if p.is_file()}


def found(runtime, tmp_path) -> list[str]:
    text = dump(runtime).casefold()
    seen = [s for s in SECRETS if s.casefold() in text]
    for path, data in files(tmp_path).items():
        seen += [f"{path}: the photo"] if PNG in data else []
        seen += [f"{path}: {s}" for s in SECRETS if s.encode() in data or s in path]
    return seen


def april_figures(runtime):
    with runtime.sessions() as s:
        return figures(s, runtime.workflow, runtime.calendar, wib(2025, 4, 1), wib(2025, 5, 1))


def test_purge_leaves_nothing_personal_of_a_case_past_retention(runtime, clock, tmp_path):
    _, ticket = closed_case(runtime)
    with transaction(runtime.sessions) as s:  # the browser's cookie session, as the page makes it
        chat_sessions.start(s, "webchat", CHAT_ID, clock[0])
    assert sorted(found(runtime, tmp_path)) == sorted(SECRETS + [f"{p}: the photo" for p in files(tmp_path)])
    before = april_figures(runtime)
    assert (before.total, before.ratings, before.by_state) == (1, 2, {"closed": 1})
    clock[0] = wib(2030, 4, 1, 9, 0)  # someone else files, 5 years later: theirs stays
    other = Chat(runtime, chat_id="w-later")
    other.file_complaint(text="Lampu taman kota padam sejak Senin malam.")

    clock[0] = wib(2030, 4, 7, 9, 0)  # not yet 5 years since it closed
    r = cli(runtime, "purge")
    assert r.exit_code == 0 and "cases 0" in r.output
    assert found(runtime, tmp_path)

    clock[0] = wib(2030, 4, 9, 9, 0)
    r = cli(runtime, "purge")
    assert r.exit_code == 0, r.output
    assert "cases 1, citizens 1, identities 1" in r.output
    assert not any(s.casefold() in r.output.casefold() for s in SECRETS)  # counts only
    assert found(runtime, tmp_path) == []
    assert april_figures(runtime) == before  # kinds, states, channels, SLA, ratings, IKM
    assert before.ikm.respondents == 1
    with runtime.sessions() as s:  # the survey's answers stay, no longer anyone's
        assert [(r.citizen_id, r.u1) for r in s.scalars(select(SurveyResponse))] == [(None, 3)]
    with runtime.sessions() as s:
        case = s.scalar(select(Case).where(Case.ticket == ticket))
        assert (case.state, case.kind, case.channel, case.citizen_id) == ("closed", "pengaduan", "webchat", None)
        history = [(e.action, e.to_state, e.actor_role) for e in s.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case.id).order_by(CaseEvent.id))]
        assert history[0] == ("open", "received", "citizen") and history[-1] == ("anonymised", None, "system")
        assert ("accept", "closed", "citizen") in history
        later = s.scalar(select(Case).where(Case.ticket != ticket))
        assert later.text == "Lampu taman kota padam sejak Senin malam." and later.citizen.name == "Siti Aminah"
    again = cli(runtime, "purge")
    assert "cases 0, citizens 0" in again.output  # done once


def test_the_scheduler_purges_once_a_day(runtime, clock, tmp_path):
    from storage.models import ScheduledRun

    closed_case(runtime)
    clock[0] = wib(2030, 4, 9, 1, 0)  # before office hours: the purge does not wait for them
    runtime.scheduler.tick()
    assert found(runtime, tmp_path) == []
    runtime.scheduler.tick()
    with runtime.sessions() as s:
        assert s.scalars(select(ScheduledRun.run_key).where(ScheduledRun.job == "privacy_purge")).all() == [
            "2030-04-09"]


def test_erase_asks_then_records_who_and_why(runtime, tmp_path):
    _, ticket = closed_case(runtime)
    r = cli(runtime, "erase", ticket, "--by", "Dina (admin)", "--reason", "permintaan lewat telepon", input="n\n")
    assert r.exit_code == 1 and "Aborted" in r.output
    assert NAME.casefold() in dump(runtime).casefold()  # nothing done
    r = cli(runtime, "erase", ticket, "--by", "Dina (admin)", "--reason", "permintaan lewat telepon", input="y\n")
    assert r.exit_code == 0, r.output
    assert f"citizen of {ticket}" in r.output and "cases 1, citizens 1" in r.output and "surveys 1" in r.output
    assert found(runtime, tmp_path) == []
    with runtime.sessions() as s:  # erased on request: their survey answers go too
        assert s.scalars(select(SurveyResponse)).all() == []
    with runtime.sessions() as s:
        last = s.scalars(select(CaseEvent).order_by(CaseEvent.id.desc())).first()
        assert (last.action, last.actor_type, last.public) == ("erased", "admin", False)
        assert last.note == "erased by Dina (admin): permintaan lewat telepon"


def test_an_open_case_is_erased_only_with_force_and_then_ends_closed(runtime, tmp_path):
    _, ticket = file_with_photo(runtime)
    args = ["erase", "--citizen", f"webchat:{CHAT_ID}", "--by", "Dina", "--reason", "permintaan", "--yes"]
    r = cli(runtime, *args)
    assert r.exit_code != 0 and f"open cases: {ticket}" in r.output
    assert cli(runtime, *args, "--force").exit_code == 0
    assert found(runtime, tmp_path) == []  # the upload the fetcher had not taken yet goes too
    with runtime.sessions() as s:
        case = s.scalar(select(Case))
        assert case.state == "closed" and case.closed_at is not None
        assert all(d.completed_at is not None for d in case.deadlines)  # no reminder will come
        actions = [e.action for e in case.events]
        assert actions[-2:] == ["erase", "erased_closed"]
    assert runtime.outbound.fetcher.run_once() == 0


def test_export_gives_the_citizen_their_own_data(runtime, tmp_path):
    _, ticket = closed_case(runtime)
    out = tmp_path / "mine.json"
    r = cli(runtime, "export", "--citizen", f"webchat:{CHAT_ID}", "-o", str(out))
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert data["profile"]["name"] == NAME and data["profile"]["email"] == EMAIL
    assert data["profile"]["phone"] == "+62" + DIGITS
    assert data["identities"] == [{"channel": "webchat", "id": CHAT_ID, "last_message_at": data["identities"][0][
        "last_message_at"], "blocked_bot_at": None}]
    [case] = data["cases"]
    assert (case["ticket"], case["text"], case["state"]) == (ticket, TEXT, "closed")
    assert [h["action"] for h in case["history"]][:2] == ["open", "dispose"]
    assert all(h["action"] != "note" for h in case["history"])  # internal notes are the office's
    assert any(h["note"] == ANSWER for h in case["history"])
    assert [(x["solved"], x["score"], x["comment"]) for x in case["ratings"]] == [(False, None, REASON),
                                                                                 (True, 4, COMMENT)]
    [answers] = data["surveys"]
    assert (answers["ticket"], answers["channel"], answers["answers"]) == (ticket, "webchat",
                                                                          dict.fromkeys(answers["answers"], 3))
    assert answers["profile"] == dict.fromkeys(["age_group", "sex", "education", "occupation"])
    assert case["attachments"] == [{"kind": "photo", "content_type": "image/png", "size": len(PNG),
                                    "filename": FILENAME, "received_at": case["attachments"][0]["received_at"],
                                    "stored": True}]
    by_ticket = json.loads(cli(runtime, "export", "--ticket", ticket).output)
    assert by_ticket["profile"] == data["profile"]


def test_hapus_from_whatsapp_asks_records_and_tells_the_coordinators(runtime):
    admin = enrol(runtime, "admin", chat_id="w-admin")
    chat, ticket = file_with_photo(runtime, chat_id="+6281398765432", channel="whatsapp")
    admin.pop()
    question = chat.say("/hapus")
    assert question[0].startswith("Anda meminta data pribadi Anda dihapus")
    assert chat.say("dua")[0] == "Baik, data Anda tidak dihapus."
    chat.say("/hapus")
    replies = chat.choose("erase|yes")  # typed "1" on WhatsApp
    assert replies[0].startswith("Permintaan penghapusan data Anda (nomor 1) sudah kami terima")
    [notice] = [p["text"] for p in admin.pop()]
    assert notice == (f"Permintaan penghapusan data #1 dari seorang pelapor ({ticket}). Admin menjalankan: "
                      'aduan privacy erase --request 1 --by NAMA --reason "permintaan #1"')
    chat.say("/hapus")
    assert chat.choose("erase|yes")[0].startswith("Permintaan penghapusan data Anda (nomor 1) sudah tercatat")
    assert admin.pop() == []  # told once
    listed = cli(runtime, "requests").output
    assert ticket in listed and "--request 1" in listed and DIGITS not in listed
    r = cli(runtime, "erase", "--request", "1", "--by", "Dina", "--reason", "permintaan #1", "--force", "--yes")
    assert r.exit_code == 0, r.output
    assert "no pending requests" in cli(runtime, "requests").output
    with runtime.sessions() as s:
        request = s.get(PrivacyRequest, 1)
        assert (request.done_by, request.citizen_id) == ("Dina", None)
        assert s.scalar(select(Citizen)) is None
    assert DIGITS not in dump(runtime) and NAME not in dump(runtime)
