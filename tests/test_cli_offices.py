"""`aduan office add/list/show/set` and `--office` on the office-level commands, through the
command line with a real config file, on SQLite (and PostgreSQL when configured)."""
import csv

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import main
from bot.config import load_settings
from bot.runtime import Runtime
from storage.base import Office
from storage.models import Case, Officer, Unit
from tests.conftest import wib
from tests.test_cli import fails_with

TOKEN_A, TOKEN_B = "111:FIRST-OFFICE-TOKEN", "222:KOTA-B-TOKEN-NEVER-SHOWN"


def aduan(*args, config, input=None, env=None):
    return CliRunner().invoke(main, ["--config", config, *args], input=input, env=env)


@pytest.fixture
def config(tmp_path, database_url, engine):
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n[office]\nname = "BPS Provinsi Uji"\n'
                    f'[telegram]\ntoken = "{TOKEN_A}"\n')
    return str(path)


def rows_of(sessions):
    with sessions() as s:
        return {o.code: (o.settings, o.parent_id) for o in s.scalars(select(Office).order_by(Office.id))}


def test_add_list_show(config, sessions):
    r = aduan("office", "add", "Kota-B", "--name", "BPS Kota B", "--preset", "pst-sorong", "--parent", "utama",
              "--ticket-prefix", "KTB", config=config)
    assert r.exit_code == 0, r.output
    assert "office kota-b added: web chat at /o/kota-b/, Telegram webhook /webhooks/telegram/kota-b" in r.output
    assert aduan("office", "add", "kab-c", "--name", "BPS Kab C", "--timezone", "Asia/Makassar",
                 config=config).exit_code == 0
    rows = rows_of(sessions)
    assert list(rows) == ["utama", "kota-b", "kab-c"]
    assert rows["kota-b"] == ({"office": {"name": "BPS Kota B", "ticket_prefix": "KTB"},
                               "workflow": {"preset": "pst-sorong"}}, 1)
    assert rows["kab-c"][1] is None

    lines = aduan("office", "list", config=config).output.splitlines()
    assert lines[0].startswith("utama\tBPS Provinsi Uji\tsp4n-lapor\twebchat, telegram")
    assert lines[1] == "kota-b\tBPS Kota B\tpst-sorong\twebchat (under utama)"
    assert lines[2] == "kab-c\tBPS Kab C\tsp4n-lapor\twebchat"

    out = aduan("office", "show", "kota-b", config=config).output
    assert "office.name = 'BPS Kota B'" in out and "workflow.preset = 'pst-sorong'" in out
    assert "office.ticket_prefix = 'KTB'" in out
    # the first office's bot is its own: the other office has none until it is given one
    assert "telegram.token = (not set)" in out and TOKEN_A not in out
    assert "webhooks: /webhooks/telegram/kota-b" in out and "web chat: /o/kota-b/" in out
    assert "office.timezone = 'Asia/Makassar'" in aduan("office", "show", "kab-c", config=config).output
    first = aduan("office", "show", "utama", config=config).output
    assert "(#1, the config file)" in first and "telegram.token = (set)" in first and TOKEN_A not in first
    assert fails_with(aduan("office", "show", "nowhere", config=config), "no office 'nowhere'")


@pytest.mark.parametrize("args, message", [
    (["Kota B", "--name", "X"], "office code 'kota b': 2-40 lower-case letters, digits or '-'"),
    (["k", "--name", "X"], "office code 'k'"),
    (["-ab", "--name", "X"], "No such option"),  # not a code a web address can start with
    (["utama", "--name", "X"], "office 'utama' exists already"),
    (["kota-b", "--name", "X", "--preset", "nope"], "workflow.preset: nope: no such preset or file"),
    (["kota-b", "--name", "X", "--parent", "nowhere"], "no office 'nowhere'"),
    (["kota-b", "--name", "X", "--timezone", "Mars/Base"], "office.timezone: Value error, unknown time zone"),
    (["kota-b", "--name", "X", "--ticket-prefix", "k1"], "office.ticket_prefix: String should match"),
])
def test_a_bad_add_stores_nothing(config, sessions, args, message):
    r = aduan("office", "add", *args, config=config)
    if message == "No such option":
        assert r.exit_code == 2 and message in r.stderr
    else:
        assert fails_with(r, message)
    assert list(rows_of(sessions)) == ["utama"]


def test_a_duplicate_code_in_other_letters_is_refused(config, sessions):
    assert aduan("office", "add", "kota-b", "--name", "BPS Kota B", config=config).exit_code == 0
    assert fails_with(aduan("office", "add", "KOTA-B", "--name", "Lagi", config=config),
                      "office 'kota-b' exists already")
    assert rows_of(sessions)["kota-b"][0] == {"office": {"name": "BPS Kota B"}}


def test_set_a_value_a_secret_and_unset(config, sessions):
    aduan("office", "add", "kota-b", "--name", "BPS Kota B", config=config)
    r = aduan("office", "set", "kota-b", "telegram.officer_group_chat_id", "-100123", config=config)
    assert r.exit_code == 0, r.output
    assert "office kota-b: telegram.officer_group_chat_id set (restart Aduan's processes to use it)" in r.output
    # a number to send from is text, whatever it looks like
    assert aduan("office", "set", "kota-b", "whatsapp.from_number", "+6281100000222", config=config).exit_code == 0
    assert aduan("office", "set", "kota-b", "office.name", "BPS Kota B (Baru)", config=config).exit_code == 0
    assert aduan("office", "set", "kota-b", "office.extra_days_off", "[2025-04-01]", config=config).exit_code == 0

    # a secret on the command line is refused, and nothing is stored
    before = rows_of(sessions)["kota-b"][0]
    assert fails_with(aduan("office", "set", "kota-b", "telegram.token", TOKEN_B, config=config),
                      "telegram.token is a secret: give it on standard input, not as an argument")
    assert fails_with(aduan("office", "set", "kota-b", "telegram.token", config=config, input="\n"),
                      "telegram.token: nothing on standard input")
    assert rows_of(sessions)["kota-b"][0] == before
    r = aduan("office", "set", "kota-b", "telegram.token", config=config, input=TOKEN_B + "\n")
    assert r.exit_code == 0 and TOKEN_B not in r.output + r.stderr

    own = rows_of(sessions)["kota-b"][0]
    assert own["telegram"] == {"officer_group_chat_id": -100123, "token": TOKEN_B}
    assert own["whatsapp"] == {"from_number": "+6281100000222"}
    assert own["office"] == {"name": "BPS Kota B (Baru)", "extra_days_off": ["2025-04-01"]}
    # what the processes will read when they start again
    rt = Runtime(load_settings(config))
    try:
        b = rt.office_by_code("kota-b").settings
        assert b.telegram.token.get_secret_value() == TOKEN_B and b.telegram.officer_group_chat_id == -100123
        assert b.office.name == "BPS Kota B (Baru)" and rt.office_by_code("kota-b").whatsapp_number == "+6281100000222"
    finally:
        rt.close()

    out = aduan("office", "show", "kota-b", config=config).output
    assert "telegram.token = (set)" in out and TOKEN_B not in out
    assert "office.extra_days_off = {'2025-04-01': 'hari libur kantor'}" in out

    r = aduan("office", "set", "kota-b", "telegram.token", "--unset", config=config)
    assert r.exit_code == 0 and "telegram.token unset" in r.output
    assert rows_of(sessions)["kota-b"][0]["telegram"] == {"officer_group_chat_id": -100123}
    assert aduan("office", "set", "kota-b", "whatsapp.from_number", "--unset", config=config).exit_code == 0
    assert "whatsapp" not in rows_of(sessions)["kota-b"][0]
    assert "telegram.token = (not set)" in aduan("office", "show", "kota-b", config=config).output


def test_a_secret_from_the_environment_is_shown_as_set_only(config, monkeypatch):
    aduan("office", "add", "kota-b", "--name", "BPS Kota B", config=config)
    monkeypatch.setenv("ADUAN_OFFICE_KOTA_B_WHATSAPP_AUTH_TOKEN", "twilio-secret-of-kota-b")
    out = aduan("office", "show", "kota-b", config=config).output
    assert "whatsapp.auth_token = (set)" in out and "twilio-secret-of-kota-b" not in out


@pytest.mark.parametrize("args, message", [
    (["kota-b", "office.timezone", "Mars/Base"], "office kota-b: office.timezone: Value error, unknown time zone"),
    (["kota-b", "office.ticket_prefix", "xx"], "office kota-b: office.ticket_prefix: String should match"),
    (["kota-b", "workflow.preset", "nope"], "office kota-b: workflow.preset: nope: no such preset or file"),
    (["kota-b", "office.nope", "1"], "office kota-b: office.nope: Extra inputs are not permitted"),
    (["kota-b", "database.url", "sqlite://"], "database.url: give SECTION.KEY, the section one of office"),
    (["kota-b", "office", "x"], "office: give SECTION.KEY"),
    (["kota-b", "office.name"], "give a value for office.name (or --unset)"),
    (["kota-b", "webchat.secret_key"], "webchat.secret_key is the same for every office: set it in the config file"),
    (["kota-b", "webchat.message_burst", "9"], "webchat.message_burst is the same for every office"),
    (["kota-b", "office.name", "X", "--unset"], "--unset takes no value"),
    (["kota-b", "office.name", "--unsett"], "no such option: --unsett"),
    (["utama", "office.name", "X"], "the first office's settings are the config file's: edit that file"),
    (["nowhere", "office.name", "X"], "no office 'nowhere'"),
])
def test_a_bad_set_is_refused_with_the_key_named_and_stores_nothing(config, sessions, args, message):
    aduan("office", "add", "kota-b", "--name", "BPS Kota B", config=config)
    before = rows_of(sessions)
    assert fails_with(aduan("office", "set", *args, config=config), message)
    assert rows_of(sessions) == before


# -- --office on the office-level commands ------------------------------------------------

@pytest.fixture
def two(config, sessions):
    """The config file's office (sp4n-lapor) and kota-b (pst-sorong, tickets KTB-...), each
    with one case of April 2025."""
    assert aduan("office", "add", "kota-b", "--name", "BPS Kota B", "--preset", "pst-sorong",
                 "--ticket-prefix", "KTB", config=config).exit_code == 0
    rt = Runtime(load_settings(config))
    tickets = {}
    try:
        for office, text in ((rt.default, "Antrian lama di kantor provinsi"), (rt.office_by_code("kota-b"),
                                                                                "Data inflasi belum terbit")):
            with office.transaction() as s:
                tickets[office.id] = office.cases.open_case(s, kind="pengaduan", text=text, channel="webchat",
                                                            category=office.cases.categories[0].id
                                                            if office.cases.categories else None,
                                                            now=wib(2025, 4, 8, 9, 0)).ticket
        return config, tickets[1], tickets[rt.office_by_code("kota-b").id], rt.office_by_code("kota-b").id
    finally:
        rt.close()


def test_several_offices_the_command_says_to_choose(two):
    config, *_ = two
    for args in (["unit", "list"], ["unit", "add", "KEU", "Keuangan"], ["officer", "invite", "--role", "admin"],
                 ["cases", "list"], ["report", "monthly", "--month", "2025-04"]):
        assert fails_with(aduan(*args, config=config),
                          "this deployment has several offices; say which with --office CODE (utama, kota-b)"), args
    assert fails_with(aduan("--office", "nowhere", "unit", "list", config=config),
                      "no office 'nowhere' (offices: utama, kota-b)")


def test_units_and_officers_of_the_chosen_office(two, sessions):
    config, _, _, b = two
    r = aduan("--office", "kota-b", "unit", "add", "IPDS", "Fungsi IPDS", config=config)
    assert r.exit_code == 0 and "unit IPDS added" in r.output
    assert aduan("--office", "utama", "unit", "add", "KEU", "Keuangan", config=config).exit_code == 0
    # the same code in each office is two units
    assert aduan("--office", "kota-b", "unit", "add", "KEU", "Keuangan Kota", config=config).exit_code == 0
    out = aduan("--office", "utama", "unit", "list", config=config).output
    assert "KEU" in out and "IPDS" not in out and "Keuangan Kota" not in out
    assert "IPDS" in aduan("unit", "list", config=config, env={"ADUAN_OFFICE": "kota-b"}).output
    with sessions() as s:
        assert sorted(s.execute(select(Unit.office_id, Unit.code)).all()) == [(1, "KEU"), (b, "IPDS"), (b, "KEU")]

    # roles are the office's workflow's
    assert fails_with(aduan("--office", "kota-b", "officer", "invite", "--role", "admin", config=config),
                      "role 'admin' is not a role of workflow 'pst-sorong'")
    r = aduan("--office", "kota-b", "officer", "invite", "--role", "petugas_pst", "--name", "Sari", config=config)
    assert r.exit_code == 0, r.output
    with sessions() as s:
        assert s.execute(select(Officer.office_id, Officer.name)).all() == [(b, "Sari")]
    assert "Sari" in aduan("--office", "kota-b", "officer", "list", config=config).output
    assert "no officers yet" in aduan("--office", "utama", "officer", "list", config=config).output


def test_cases_and_reports_of_the_chosen_office(two, tmp_path):
    config, ticket_a, ticket_b, _ = two
    assert ticket_a.startswith("ADU-") and ticket_b.startswith("KTB-")
    out = aduan("--office", "kota-b", "cases", "list", config=config).output
    assert ticket_b in out and ticket_a not in out
    out = aduan("--office", "utama", "cases", "list", config=config).output
    assert ticket_a in out and ticket_b not in out
    assert fails_with(aduan("--office", "utama", "cases", "show", ticket_b, config=config), f"no case {ticket_b!r}")
    assert "Data inflasi" in aduan("--office", "kota-b", "cases", "show", ticket_b, config=config).output

    path = tmp_path / "b.csv"
    r = aduan("--office", "kota-b", "report", "monthly", "--month", "2025-04", "--format", "csv", "-o", str(path),
              config=config)
    assert r.exit_code == 0 and "2025-04, 1 cases" in r.output
    rows = list(csv.reader(path.open(encoding="utf-8")))
    assert rows[0][1] == "BPS Kota B" and ticket_b in str(rows) and ticket_a not in str(rows)


def test_one_office_needs_no_office_option(config, sessions):
    assert aduan("unit", "add", "KEU", "Keuangan", config=config).exit_code == 0
    assert "KEU" in aduan("--office", "utama", "unit", "list", config=config).output
    assert "no cases" in aduan("cases", "list", config=config).output
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_set_webhook_of_another_office(config):
    aduan("office", "add", "kota-b", "--name", "BPS Kota B", config=config)
    assert fails_with(aduan("--office", "kota-b", "telegram", "set-webhook", "https://x.go.id/webhooks/telegram/kota-b",
                            config=config), "`aduan office set kota-b telegram.token`")
    aduan("office", "set", "kota-b", "telegram.token", config=config, input="222:B\n")
    aduan("office", "set", "kota-b", "telegram.secret_token", config=config, input="secret-b\n")
    # the first office's address would refuse this bot's updates
    assert fails_with(aduan("--office", "kota-b", "telegram", "set-webhook", "https://x.go.id/webhooks/telegram",
                            config=config), "office kota-b's bot posts to .../webhooks/telegram/kota-b")
