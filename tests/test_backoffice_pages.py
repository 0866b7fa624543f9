"""The back office's pages: the dashboard's figures are the reports' (storage.reporting), the
case page shows what the card shows (history, internal notes, deadlines in office time,
the rating, the actions for this officer), English stays chosen, and the admin and
report pages are for the roles that have them in chat."""
from __future__ import annotations

import re

from sqlalchemy import select

from bot.reports.document import number_text
from bot.reports.monthly import month_bounds
from storage.models_backoffice import WebSession
from storage.reporting import figures
from storage.units import unit_by_code
from tests.chat import Chat
from tests.conftest import wib
from tests.test_backoffice import PNG, app, case_with_photo, clock, csrf, dispose, officer, runtime, sign_in  # noqa: F401


def answered(runtime, admin, unit, chat_id, answer="Antrian sudah diatur dengan nomor."):
    citizen = Chat(runtime, chat_id=chat_id)
    ticket = citizen.file_complaint()
    dispose(admin, ticket, "KEU")
    unit.say(f"/proses {ticket}")
    unit.say(f"/jawab {ticket} {answer}")
    return citizen, ticket


def figure(html: str, name: str) -> str:
    return re.search(rf'data-figure="{name}">([^<]*)<', html)[1]


def test_the_dashboard_shows_the_figures_the_reports_count(runtime, app, clock):
    admin, keu = officer(runtime), officer(runtime, "unit_officer", "KEU")
    citizen, first = answered(runtime, admin, keu, "w-one")
    citizen.choose(f"c|accept|{first}")
    citizen.say("4")
    citizen.say("Petugasnya ramah.")
    clock[0] = wib(2025, 4, 15, 10, 0)  # a week later: a second week on the chart
    answered(runtime, admin, keu, "w-two")
    rejected = Chat(runtime, chat_id="w-three").file_complaint()
    admin.say(f"/tolak {rejected} Bukan pengaduan layanan.")
    Chat(runtime, chat_id="w-four").file_complaint()  # still open
    admin.say("/eskalasi ADU-2025-000004 Belum ada tanggapan.")
    clock[0] = wib(2025, 4, 22, 9, 0)
    leader = sign_in(app, officer(runtime, "leadership"))
    html = leader.get("/kantor/").get_data(as_text=True)  # the leadership lands on it
    start, end = month_bounds(runtime.calendar, "2025-04")
    with runtime.sessions() as s:
        f = figures(s, runtime.workflow, runtime.calendar, start, end, runtime.clock())
    assert f.total == 4 and f.followed_up == 2 and f.escalations == 1  # the test's own premise
    assert figure(html, "total") == "4"
    assert figure(html, "follow_up_rate") == number_text(f.follow_up_rate, "pct") == "66,7 %"
    assert figure(html, "avg_follow_up_days") == number_text(f.avg_follow_up_days, "dec1")
    assert figure(html, "escalations") == "1"
    met = sum(v[0] for v in f.sla.values())
    assert figure(html, "sla_rate") == number_text(met / sum(sum(v) for v in f.sla.values()), "pct")
    assert html.count("<svg") == 3 and "Laporan masuk per minggu menurut status" in html
    assert "Bagian Keuangan (KEU)" in html  # the per-unit table
    keu_row = re.search(r"<tr><td class=\"text\">Bagian Keuangan \(KEU\)</td>(.*?)</tr>", html, re.S)[1]
    cells = re.findall(r">([^<]*)</td>", keu_row)
    with runtime.sessions() as s:
        unit = f.follow_up.units[unit_by_code(s, "KEU").id]
    assert cells[:3] == [str(unit.cases), str(unit.followed_up), number_text(unit.rate, "pct")]
    other_month = leader.get("/kantor/dasbor?bulan=2025-03").get_data(as_text=True)
    assert figure(other_month, "total") == "0" and "belum ada data" in other_month


def test_the_case_page_shows_details_files_history_deadlines_rating_and_actions(runtime, app):
    admin, keu = officer(runtime), officer(runtime, "unit_officer", "KEU")
    ticket = case_with_photo(runtime, app)
    dispose(admin, ticket, "KEU")
    admin.say(f"/catatan {ticket} Pelapor pernah mengadu hal yang sama.")
    browser = sign_in(app, keu)
    html = browser.get(f"/kantor/kasus/{ticket}").get_data(as_text=True)
    assert "Antrian di loket pelayanan sangat panjang sejak pagi." in html and "Siti" in html
    assert re.search(r'<img src="/kantor/lampiran/\d+" alt="Foto · antrian.png · image/png', html)
    assert "Pelapor pernah mengadu hal yang sama." in html and "internal</span>" in html
    assert "Verifikasi" in html and "Disposisi" in html
    assert "Tenggat 15 Apr 2025 16.00 WIB" in html  # disposed on the 8th: 5 working days, office time
    assert re.findall(r'data-trigger="(\w+)"', html) == ["start"]  # what the unit may do now: a button
    assert 'id="act-start">Proses</button>' in html and "Tambah catatan" in html and "Eskalasi" in html
    assert 'name="lapor_id"' not in html  # the coordinators' only
    assert "Bagian Keuangan (KEU)" in html
    r = browser.get(re.search(r'src="(/kantor/lampiran/\d+)"', html)[1])
    assert r.data == PNG and r.headers["Content-Type"] == "image/png" and "sandbox" in r.headers["Content-Security-Policy"]
    keu.say(f"/proses {ticket}")
    keu.say(f"/jawab {ticket} Antrian sudah diatur dengan nomor.")
    html = browser.get(f"/kantor/kasus/{ticket}").get_data(as_text=True)
    assert "Antrian sudah diatur dengan nomor." in html and "Tidak ada tindakan untuk peran Anda" in html


def test_the_rating_is_on_the_case_page(runtime, app):
    admin, keu = officer(runtime), officer(runtime, "unit_officer", "KEU")
    citizen, ticket = answered(runtime, admin, keu, "w-one")
    citizen.choose(f"c|accept|{ticket}")
    citizen.say("4")
    citizen.say("Petugasnya ramah.")
    html = sign_in(app, admin).get(f"/kantor/kasus/{ticket}").get_data(as_text=True)
    assert "Selesai, nilai 4 dari 5" in html and "Petugasnya ramah." in html


def test_english_is_kept_in_the_session(runtime, app):
    admin = officer(runtime)
    browser = sign_in(app, admin)
    page = browser.get("/kantor/antrian").get_data(as_text=True)
    assert "Antrian saya" in page
    r = browser.post("/kantor/bahasa", data={"csrf_token": csrf(page), "lang": "en", "next": "/kantor/cari"})
    assert r.status_code == 302 and r.headers["Location"] == "/kantor/cari"
    assert "My queue" in browser.get("/kantor/antrian").get_data(as_text=True)
    with runtime.sessions() as s:
        assert s.scalar(select(WebSession.language)) == "en"
    r = browser.post("/kantor/bahasa", data={"csrf_token": csrf(page), "lang": "en", "next": "https://evil.example/"})
    assert r.headers["Location"] == "/kantor/"  # never away from here


def test_admin_pages_are_for_admins_and_invite_shows_the_code_once(runtime, app):
    admin = officer(runtime)
    unit = sign_in(app, officer(runtime, "unit_officer", "KEU"))
    for path in ("/kantor/admin/unit", "/kantor/admin/petugas", "/kantor/admin/alur", "/kantor/laporan"):
        assert unit.get(path).status_code == 403, path
    browser = sign_in(app, admin)
    page = browser.get("/kantor/admin/unit").get_data(as_text=True)
    assert browser.post("/kantor/admin/unit", data={"csrf_token": csrf(page), "code": "HUMAS", "name": "Humas"}).status_code == 302
    bad = browser.post("/kantor/admin/unit", data={"csrf_token": csrf(page), "code": "humas", "name": "Lagi"})
    assert bad.status_code == 400 and "HUMAS" in bad.get_data(as_text=True)
    browser.post("/kantor/admin/unit", data={"csrf_token": csrf(page), "rename": "HUMAS", "name": "Hubungan Masyarakat"})
    assert "Hubungan Masyarakat" in browser.get("/kantor/admin/unit").get_data(as_text=True)
    page = browser.get("/kantor/admin/petugas").get_data(as_text=True)
    refused = browser.post("/kantor/admin/petugas", data={"csrf_token": csrf(page), "role": "unit_officer"})
    assert refused.status_code == 400  # a unit officer needs a unit, as `aduan officer invite` says
    r = browser.post("/kantor/admin/petugas", data={"csrf_token": csrf(page), "role": "unit_officer",
                                                     "unit": "HUMAS", "name": "Rina"})
    code = re.search(r'id="invite-code">/petugas ([A-Z0-9-]+)<', r.get_data(as_text=True))[1]
    assert code not in browser.get("/kantor/admin/petugas").get_data(as_text=True)  # shown once
    assert Chat(runtime, channel="telegram", chat_id="t-rina").say(f"/petugas {code}")[0] == \
        "Anda terdaftar sebagai petugas: Petugas Unit Kerja."
    workflow = browser.get("/kantor/admin/alur").get_data(as_text=True)
    assert "Belum Terverifikasi" in workflow and "3 hari kerja" in workflow and "<code>/verifikasi</code>" in workflow


def test_reports_download_for_the_roles_that_have_them(runtime, app):
    Chat(runtime, chat_id="w-one").file_complaint()
    leader = sign_in(app, officer(runtime, "leadership"))
    r = leader.get("/kantor/laporan/unduh?jenis=bulanan&bulan=2025-04&format=xlsx")
    assert r.status_code == 200 and r.data[:2] == b"PK"
    assert r.headers["Content-Disposition"].startswith("attachment; filename=laporan-2025-04.xlsx")
    r = leader.get("/kantor/laporan/unduh?jenis=ikm&dari=2025-04-01&sampai=2025-04-30&format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert leader.get("/kantor/laporan/unduh?jenis=evaluasi&tahun=2025&format=pdf").data[:4] == b"%PDF"
    assert leader.get("/kantor/laporan/unduh?jenis=lapor&bulan=2025-04&format=xlsx").status_code == 403  # personal data
    assert leader.get("/kantor/laporan/unduh?jenis=bulanan&bulan=2025-13&format=xlsx").status_code == 400
    admin = sign_in(app, officer(runtime))
    r = admin.get("/kantor/laporan/unduh?jenis=lapor&bulan=2025-04&format=csv")
    assert r.status_code == 200 and b"ADU-2025-000001" in r.data
    assert "Berkas SP4N-LAPOR!" in admin.get("/kantor/laporan").get_data(as_text=True)
    assert "Berkas SP4N-LAPOR!" not in leader.get("/kantor/laporan").get_data(as_text=True)


def test_the_queues_are_the_officer_services_soonest_deadline_first_and_one_unit_chosen(runtime, app, clock):
    admin = officer(runtime)
    tickets = []
    for n, unit in enumerate(("KEU", "PU", "KEU")):
        clock[0] = wib(2025, 4, 8 + n, 9, 0)
        tickets.append(Chat(runtime, chat_id=f"w-q{n}").file_complaint())
        dispose(admin, tickets[-1], unit)
    fresh = Chat(runtime, chat_id="w-q-new").file_complaint()  # waiting on the admin
    clock[0] = wib(2025, 4, 30, 9, 0)  # every forwarded case is late by now
    browser = sign_in(app, admin)
    listed = lambda page: re.findall(r'href="/kantor/kasus/(ADU-[\d-]+)"', page)  # noqa: E731
    with runtime.sessions() as s:
        keu = unit_by_code(s, "KEU").id
    page = browser.get(f"/kantor/antrian/unit?unit={keu}").get_data(as_text=True)
    assert listed(page) == [tickets[0], tickets[2]] and page.count('<tr class="late">') == 2
    assert sorted(listed(browser.get("/kantor/antrian/unit").get_data(as_text=True))) == sorted(tickets + [fresh])
    assert listed(browser.get("/kantor/antrian").get_data(as_text=True)) == [fresh]
    found = browser.get(f"/kantor/cari?unit={keu}&terlambat=1").get_data(as_text=True)
    assert listed(found) == [tickets[2], tickets[0]]  # newest first
    assert listed(browser.get("/kantor/cari?unit=9999").get_data(as_text=True)) == []
