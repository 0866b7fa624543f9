"""The IKM of survey responses (storage.survey) against tables computed by hand: overall, per
service and per unit; the respondents' profile; the report's tables in csv, xlsx and PDF
(`aduan report ikm`); the answers kept on ratings before moving into survey_responses."""
import csv
import io
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from bot.cli import main
from storage.db import make_engine, transaction
from storage.migrate import downgrade, upgrade
from storage.models_survey import ELEMENT_COLUMNS, SurveyResponse
from storage.reporting import figures
from storage.survey import ikm_by, period_ikm, profile_counts
from storage.units import add_unit
from tests.conftest import wit

APRIL, MAY = wit(2025, 4, 1), wit(2025, 5, 1)


def answers(value, **changed) -> dict:
    return {**dict.fromkeys(ELEMENT_COLUMNS, value), **changed}


@pytest.fixture
def runtime(make_runtime):
    rt = make_runtime(clock=lambda: wit(2025, 5, 2, 9, 0), workflow={"preset": "pst-sorong"},
                      office={"name": "BPS Kota Sorong"})
    with transaction(rt.sessions) as s:
        keu = add_unit(s, "IPDS", "Fungsi IPDS")
        s.flush()
        at = wit(2025, 4, 10, 9, 0)
        rows = [  # (service, unit, profile, answers)
            ("perpustakaan", keu.id, dict(age_group="30_39", sex="P", education="D4_S1", occupation="PNS"),
             answers(4)),
            ("perpustakaan", keu.id, dict(age_group="20_29", sex="L", education="SMA", occupation="swasta"),
             answers(3, u4=None)),  # the cost skipped
            ("konsultasi", None, dict(sex="P", education="S2", occupation="PNS"), answers(2, u9=1)),
            ("konsultasi", None, dict(sex="L", age_group="ge60"), answers(None)),  # only the profile: no respondent
        ]
        for service, unit, profile, values in rows:
            s.add(SurveyResponse(channel="whatsapp", service=service, unit_id=unit, created_at=at, **profile, **values))
        s.add(SurveyResponse(channel="webchat", service="konsultasi", created_at=MAY, **answers(1)))  # May: out
        s.add(SurveyResponse(channel="webchat", service="penjualan", created_at=MAY - timedelta(microseconds=1),
                             sex="P", **answers(4, u1=None)))  # the period's last instant: in
    return rt


def test_ikm_overall_per_service_and_per_unit_by_hand(runtime):
    with runtime.sessions() as s:
        overall = period_ikm(s, APRIL, MAY)
        services = ikm_by(s, APRIL, MAY, "service")
        units = ikm_by(s, APRIL, MAY, "unit")
        library = period_ikm(s, APRIL, MAY, service="perpustakaan")
        no_unit = period_ikm(s, APRIL, MAY, unit_id=None)
    # 4 respondents (the profile-only one is none). u1: 4+3+2 = 9 of 3 (the last skipped it);
    # u2..u8 (not u4): 4+3+2+4 = 13 of 4; u4: 4+2+4 = 10 of 3; u9: 4+3+1+4 = 12 of 4.
    assert overall.respondents == 4
    assert (overall.answers["u1"], overall.nrr["u1"]) == (3, Fraction(3))
    assert (overall.nrr["u2"], overall.nrr["u4"], overall.nrr["u9"]) == (Fraction(13, 4), Fraction(10, 3), Fraction(3))
    # sum NRR = 3 + 6 x 13/4 + 10/3 + 3 = 28.8333; IKM = 3.2037; x 25 = 80.09: B
    assert overall.index == (3 + 6 * Fraction(13, 4) + Fraction(10, 3) + 3) / 9
    assert (overall.score, overall.grade, overall.quality) == (Decimal("80.09"), "B", "Baik")
    # the library: 4 and 3 (u4: 4 alone): 8 x 3.5 + 4 = 32; 32/9 x 25 = 88.89: A
    assert library == services["perpustakaan"] == units[next(k for k in units if k is not None)]
    assert (library.respondents, library.index, library.score, library.grade) == (2, Fraction(32, 9),
                                                                                Decimal("88.89"), "A")
    # consultation: 2 x 8 + 1 = 17; 17/9 x 25 = 47.22: D (May's answer and the profile-only one are out)
    assert (services["konsultasi"].respondents, services["konsultasi"].score, services["konsultasi"].grade) == (
        1, Decimal("47.22"), "D")
    assert services["penjualan"].index is None and services["penjualan"].grade is None  # u1 unanswered
    assert no_unit.respondents == 2 and units[None] == no_unit


def test_the_monthly_figures_take_the_same_ikm(runtime):
    with runtime.sessions() as s:
        assert figures(s, runtime.workflow, runtime.calendar, APRIL, MAY).ikm == period_ikm(s, APRIL, MAY)


def test_the_profile_counts_respondents_only(runtime):
    with runtime.sessions() as s:
        counts = profile_counts(s, APRIL, MAY)
    assert counts["sex"] == {"P": 3, "L": 1}
    assert counts["age_group"] == {"30_39": 1, "20_29": 1, None: 2}
    assert counts["occupation"] == {"PNS": 2, "swasta": 1, None: 1}


def cli(runtime, database_url, tmp_path, *args):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "{database_url}"\n[workflow]\npreset = "pst-sorong"\n'
                   '[office]\nname = "BPS Kota Sorong"\n')
    return CliRunner().invoke(main, ["--config", str(cfg), "report", "ikm", "--from", "2025-04-01",
                                     "--to", "2025-04-30", *args])


def tables(csv_text: str) -> dict[str, list[list[str]]]:
    """The csv's tables by title: the rows under each title line, its header first."""
    out, current = {}, None
    for row in csv.reader(io.StringIO(csv_text)):
        if not row:
            current = None
        elif current is None and len(row) == 1:
            current = out.setdefault(row[0], [])
        elif current is not None:
            current.append(row)
    return out


def test_report_tables_in_the_regulations_layout(runtime, database_url, tmp_path):
    r = cli(runtime, database_url, tmp_path)
    assert r.exit_code == 0, r.output
    t = tables(r.output)
    elements = t["Nilai per unsur pelayanan"]
    assert elements[0] == ["No.", "Unsur pelayanan", "Jumlah jawaban", "Jumlah nilai", "NRR",
                           "NRR tertimbang (NRR × 1/9)", "Mutu pelayanan"]
    assert elements[1] == ["U1", "Persyaratan", "3", "9", "3.0000", "0.3333", "C"]  # 3 x 25 = 75: C
    assert elements[4] == ["U4", "Biaya/tarif", "3", "10", "3.3333", "0.3704", "B"]
    assert elements[10] == ["IKM", "Jumlah NRR; IKM = jumlah NRR tertimbang", "", "", "28.8333", "3.2037", "B"]
    assert t["Indeks Kepuasan Masyarakat"][1] == ["4", "3.2037", "80.09", "B", "Baik"]
    profile = t["Profil responden"]
    assert ["Jenis kelamin", "Laki-laki", "1", "25.0"] in profile
    assert ["Jenis kelamin", "Perempuan", "3", "75.0"] in profile
    assert ["Umur", "Tidak menjawab", "2", "50.0"] in profile and ["Umur", "30–39 tahun", "1", "25.0"] in profile
    services = t["IKM per jenis layanan"]
    assert services[1:] == [["Pelayanan Perpustakaan", "2", "3.5556", "88.89", "A", "Sangat Baik"],
                            ["Pelayanan Konsultasi Statistik", "1", "1.8889", "47.22", "D", "Tidak Baik"],
                            ["Pelayanan Penjualan Produk Statistik", "1", "", "", "", ""],
                            ["Pelayanan Rekomendasi Kegiatan Statistik", "0", "", "", "", ""]]
    assert t["IKM per unit kerja"][1][:4] == ["Fungsi IPDS", "2", "3.5556", "88.89"]
    assert t["IKM per unit kerja"][2][:2] == ["(tanpa unit: survei tidak dari pengaduan, atau pengaduan belum "
                                              "diteruskan)", "2"]
    assert "Service element" in cli(runtime, database_url, tmp_path, "--lang", "en").output


def test_report_xlsx_numbers_and_pdf_pages(runtime, database_url, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "ikm.xlsx"
    r = cli(runtime, database_url, tmp_path, "--format", "xlsx", "-o", str(out))
    assert r.exit_code == 0 and "4 respondents, score 80.09, grade B" in r.output
    cells = [c for row in load_workbook(out).active.iter_rows() for c in row]
    index = next(c for c in cells if isinstance(c.value, (int, float)) and abs(c.value - 3.2037) < 1e-4)
    assert index.number_format == "0.0000"
    pdf = tmp_path / "ikm.pdf"
    assert cli(runtime, database_url, tmp_path, "--format", "pdf", "-o", str(pdf)).exit_code == 0
    from tests.test_report_document import pdf_text

    page = pdf_text(pdf)
    for words in ("Laporan Hasil Survei Kepuasan Masyarakat", "BPS Kota Sorong", "1 April 2025 s.d. 30 April 2025",
                  "NRR tertimbang", "3,2037", "80,09", "Profil responden", "IKM per jenis layanan",
                  "Pelayanan Perpustakaan", "IKM per unit kerja", "Kepala BPS Kota Sorong"):
        assert words in page, words


def test_answers_kept_on_ratings_move_into_responses(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0013")
    with engine.begin() as c:
        c.execute(text("INSERT INTO units (id, code, name, created_at) VALUES (1, 'KEU', 'Keuangan', '2025-04-01')"))
        c.execute(text("INSERT INTO citizens (id, language, created_at) VALUES (5, 'id', '2025-04-01')"))
        c.execute(text("INSERT INTO cases (id, ticket, kind, category, channel, text, privacy, state, workflow, "
                       "citizen_id, unit_id, language, created_at, updated_at, version) VALUES (7, 'ADU-1', "
                       "'pengaduan', 'konsultasi', 'telegram', 'x', 'biasa', 'closed', 'pst-sorong', 5, 1, 'id', "
                       "'2025-04-01', '2025-04-01', 1)"))
        c.execute(text("""INSERT INTO ratings (case_id, solved, score, skm, created_at) VALUES
                          (7, 1, 5, '{"u1": 4, "u2": 3, "u9": 2}', '2025-04-09 01:00:00.000000')"""))
    upgrade(engine)
    with engine.connect() as c:
        row = c.execute(text("SELECT citizen_id, case_id, channel, service, unit_id, u1, u2, u3, u9, created_at "
                             "FROM survey_responses")).one()
        assert tuple(row)[:9] == (5, 7, "telegram", "konsultasi", 1, 4, 3, None, 2)
        assert c.execute(text("SELECT skm FROM ratings")).scalar() is None  # one source of the answers
    downgrade(engine, "0013")  # and back: the answers return onto the rating
    with engine.connect() as c:
        assert c.execute(text("SELECT skm FROM ratings")).scalar() in ('{"u1": 4, "u2": 3, "u9": 2}',
                                                                        '{"u1":4,"u2":3,"u9":2}')
    engine.dispose()
