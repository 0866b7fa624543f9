"""Solved -> a rating closes the case, then the SKM survey about the case's service and
unit; not solved -> back to the unit. The survey's answers reach no officer and no log."""
import logging

import pytest
from sqlalchemy import select

from storage.db import transaction
from storage.models import Case, Outbox, Rating
from storage.models_survey import SurveyResponse
from storage.units import add_unit
from tests.chat import Chat, enrol
from tests.conftest import wib


def answered_case(runtime, chat_id="w-citizen"):
    """A complaint filed, forwarded, taken up and answered by officers from their chats."""
    chat = Chat(runtime, chat_id=chat_id)
    ticket = chat.file_complaint()
    admin = enrol(runtime, "admin", chat_id=f"{chat_id}-admin")
    unit = enrol(runtime, "unit_officer", "KEU", chat_id=f"{chat_id}-unit")
    admin.say(f"/disposisi {ticket} KEU")
    unit.say(f"/proses {ticket}")
    unit.say(f"/jawab {ticket} Sudah diperbaiki.")
    answer = chat.pop()[-1]
    assert "Sudah diperbaiki." in answer["text"] and answer["buttons"]
    return chat, ticket


@pytest.fixture
def runtime(make_runtime):
    rt = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0), survey={"skm": True, "services": ["air"]},
                      categories=[{"id": "air", "label_id": "Layanan air bersih", "label_en": "Clean water"},
                                  {"id": "lain", "label_id": "Lainnya", "label_en": "Other"}])
    with transaction(rt.sessions) as s:
        add_unit(s, "KEU", "Keuangan")
    return rt


def test_solved_rated_commented_closed_then_the_survey_of_its_service_and_unit(runtime, caplog):
    for name in ("bot", "handlers", "storage", "flows"):  # the project's own loggers, all of them
        caplog.set_level(logging.DEBUG, logger=name)
    chat, ticket = answered_case(runtime)
    assert chat.choose(f"c|accept|{ticket}")[0].startswith(f"Terima kasih. Berapa nilai Anda untuk penanganan {ticket}")
    assert chat.say("enam")[0] == "Mohon pilih nilai 1 sampai 5."
    assert chat.say("4")[0].startswith("Ada komentar")
    replies = chat.say("Petugasnya ramah.")
    assert replies[0] == f"Terima kasih. Pengaduan {ticket} kami tutup sebagai selesai."
    assert replies[1].startswith("Survei Kepuasan Masyarakat (SKM)")
    assert replies[2].startswith("Data responden (1/4)")  # the case says the service: not asked
    with runtime.sessions() as s:
        assert s.scalar(select(Case.state)) == "closed"
    for answer in ["45", "Perempuan", "lewati", "pegawai swasta"]:
        chat.say(answer)
    for answer in ["4", "3", "Lewati", "4", "4", "3", "4", "4"]:
        chat.say(answer)
    assert chat.say("2")[0].startswith("Terima kasih atas penilaian Anda.")
    with runtime.sessions() as s:
        rating = s.scalar(select(Rating))
        assert (rating.solved, rating.score, rating.comment, rating.skm) == (True, 4, "Petugasnya ramah.", None)
        response = s.scalar(select(SurveyResponse))
        case = s.scalar(select(Case))
        assert (response.case_id, response.unit_id, response.service, response.channel) == (
            case.id, case.unit_id, "air", "webchat") and case.unit_id is not None
        assert (response.age_group, response.sex, response.education, response.occupation) == (
            "40_49", "P", None, "swasta")
        assert [getattr(response, f"u{n}") for n in range(1, 10)] == [4, 3, None, 4, 4, 3, 4, 4, 2]
        to_officers = " ".join(str(p) for p in s.scalars(select(Outbox.payload).where(Outbox.chat_id != chat.chat_id)))
    profile_words = ("Perempuan", "swasta", "40–49", "Sangat sesuai")
    assert to_officers and not any(w.casefold() in to_officers.casefold() for w in profile_words)
    logged = " ".join(r.getMessage() for r in caplog.records).casefold()
    assert caplog.records and not any(w.casefold() in logged for w in profile_words + ("perempuan", "45"))


def test_a_case_of_a_category_that_is_no_service_is_asked_its_service(runtime):
    chat, ticket = answered_case(runtime)
    with transaction(runtime.sessions) as s:
        s.scalar(select(Case)).category = "lain"  # "Lainnya": a topic, not a service
    chat.choose(f"c|accept|{ticket}")
    chat.say("5")
    replies = chat.choose("skip")
    assert replies[2] == "Layanan apa yang Anda terima?"
    chat.choose("skm|service|air")
    with runtime.sessions() as s:
        assert s.scalar(select(SurveyResponse.service)) == "air"


def test_not_solved_reopens_to_the_unit_with_the_reason(runtime):
    chat, ticket = answered_case(runtime)
    chat.choose(f"c|not_resolved|{ticket}")
    assert chat.say("Masih bocor.")[0] == f"Terima kasih. Pengaduan {ticket} kami buka kembali dan teruskan ke petugas."
    with runtime.sessions() as s:
        assert s.scalar(select(Case.state)) == "in_progress"
        rating = s.scalar(select(Rating))
        assert (rating.solved, rating.comment) == (False, "Masih bocor.")
