"""Solved -> a rating closes the case (then the SKM survey); not solved -> back to the unit.
The IKM report over the survey answers."""
import csv
import io

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from storage.db import transaction
from storage.models import Case, Rating
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
    rt = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0), survey={"skm": True})
    with transaction(rt.sessions) as s:
        add_unit(s, "KEU", "Keuangan")
    return rt


def test_solved_rated_commented_closed_then_the_survey(runtime):
    chat, ticket = answered_case(runtime)
    assert chat.choose(f"c|accept|{ticket}")[0].startswith(f"Terima kasih. Berapa nilai Anda untuk penanganan {ticket}")
    assert chat.say("enam")[0] == "Mohon pilih nilai 1 sampai 5."
    assert chat.say("4")[0].startswith("Ada komentar")
    replies = chat.say("Petugasnya ramah.")
    assert replies[0] == f"Terima kasih. Pengaduan {ticket} kami tutup sebagai selesai."
    assert replies[2] == "(1/9) Bagaimana penilaian Anda tentang Persyaratan?"
    with runtime.sessions() as s:
        assert s.scalar(select(Case.state)) == "closed"
    for answer in ["4", "3", "Lewati", "4", "4", "3", "4", "4"]:
        chat.say(answer)
    assert chat.say("2")[0] == "Terima kasih atas penilaian Anda."
    with runtime.sessions() as s:
        rating = s.scalar(select(Rating))
        assert (rating.solved, rating.score, rating.comment) == (True, 4, "Petugasnya ramah.")
        assert rating.skm == {"u1": 4, "u2": 3, "u4": 4, "u5": 4, "u6": 3, "u7": 4, "u8": 4, "u9": 2}


def test_not_solved_reopens_to_the_unit_with_the_reason(runtime):
    chat, ticket = answered_case(runtime)
    chat.choose(f"c|not_resolved|{ticket}")
    assert chat.say("Masih bocor.")[0] == f"Terima kasih. Pengaduan {ticket} kami buka kembali dan teruskan ke petugas."
    with runtime.sessions() as s:
        assert s.scalar(select(Case.state)) == "in_progress"
        rating = s.scalar(select(Rating))
        assert (rating.solved, rating.comment) == (False, "Masih bocor.")


def test_report_ikm_csv_and_xlsx(runtime, database_url, tmp_path):
    for n, values in enumerate([[4] * 9, [3] * 9, [4, 4, 4, 4, 4, 4, 4, 4, 3]]):
        chat, ticket = answered_case(runtime, chat_id=f"w-{n}")
        chat.choose(f"c|accept|{ticket}")
        chat.say("5")
        chat.choose("skip")
        for v in values:
            chat.say(str(v))
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "{database_url}"\n')
    r = CliRunner().invoke(main, ["--config", str(cfg), "report", "ikm", "--from", "2025-04-01", "--to", "2025-04-30"])
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(io.StringIO(r.output)))
    assert rows[1][:4] == ["u1", "Persyaratan", "3", "3.6667"]
    assert rows[9][:4] == ["u9", "Sarana dan prasarana", "3", "3.3333"]
    table = {row[0]: row[1] for row in rows if len(row) == 2}
    # sum NRR = 8 x 11/3 + 10/3 = 32.6667; IKM 3.6296; x25 = 90.74: A
    assert table == {"respondents": "3", "IKM": "3.6296", "converted score": "90.74",
                     "grade": "A (Sangat Baik)", "period": "2025-04-01 .. 2025-04-30"}
    empty = CliRunner().invoke(main, ["--config", str(cfg), "report", "ikm", "--from", "2024-01-01", "--to", "2024-01-31"])
    assert "respondents,0" in empty.output and "grade,-" in empty.output
    out = tmp_path / "ikm.xlsx"
    r = CliRunner().invoke(main, ["--config", str(cfg), "report", "ikm", "--from", "2025-04-01", "--to",
                                  "2025-04-30", "--format", "xlsx", "-o", str(out)])
    assert r.exit_code == 0 and "score 90.74, grade A" in r.output
    from openpyxl import load_workbook

    sheet = load_workbook(out).active
    assert sheet["A2"].value == "u1" and sheet["C2"].value == 3
