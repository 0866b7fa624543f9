"""Scoping and validation (issue 11, item 8): unit-bound roles need a unit at invite,
provider ids too long for their columns are a 400, status callbacks match a message id
exactly, and enrolment codes cannot be guessed without a pause."""
from __future__ import annotations

import re
from datetime import timedelta
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bot.app import create_app
from bot.cli import main
from flows.errors import WorkflowError
from flows.presets import load_workflow
from flows.workflow import parse_workflow
from storage.db import transaction
from storage.errors import InvalidInput
from storage.models import InboundMessage, Officer, OfficerIdentity, Outbox
from storage.officers import ENROL_PER_CHAT, ENROL_PER_ORIGIN, invite
from storage.units import add_unit
from tests.chat import Chat
from tests.conftest import wib

SID, AUTH, PUBLIC_URL = "AC" + "1" * 32, "scope-auth", "https://aduan.contoh.go.id/webhooks/whatsapp"
NOW = wib(2025, 4, 8, 9, 0)


# -- unit-bound roles ------------------------------------------------------------------------
@pytest.mark.parametrize("preset, role", [("sp4n-lapor", "liaison"), ("sp4n-lapor", "unit_officer"),
                                          ("bangkalan", "pejabat_penghubung"), ("bps-kaltim", "unit_kerja")])
def test_a_unit_bound_role_needs_a_unit(sessions, preset, role):
    wf = load_workflow(preset)
    with transaction(sessions) as s:
        add_unit(s, "KEU", "Keuangan")
        with pytest.raises(InvalidInput, match=rf"role '{role}' .* works for a unit .* give --unit CODE"):
            invite(s, wf, role)
        assert invite(s, wf, role, "KEU")[0].unit.code == "KEU"


def test_the_agency_liaison_of_bps_kaltim_is_declared_so(sessions):
    wf = load_workflow("bps-kaltim")
    assert wf.roles["pejabat_penghubung"].scope == "agency" and not wf.unit_bound("pejabat_penghubung")
    with transaction(sessions) as s:
        assert invite(s, wf, "pejabat_penghubung")[0].unit is None  # receives every case, forwards it


def test_the_cli_says_which_unit_is_missing(database_url, engine, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "{database_url}"\n')
    r = CliRunner().invoke(main, ["--config", str(cfg), "officer", "invite", "--role", "liaison"])
    assert r.exit_code == 1 and "give --unit CODE" in r.output, r.output


def test_only_a_liaison_or_an_officer_has_a_scope():
    text = (resources.files("flows") / "presets" / "sp4n-lapor.toml").read_text(encoding="utf-8")
    text = text.replace('kind = "coordinator"', 'kind = "coordinator"\nscope = "agency"', 1)
    with pytest.raises(WorkflowError, match="scope is for a liaison or an officer"):
        parse_workflow(text)


# -- provider ids ----------------------------------------------------------------------------
@pytest.fixture
def runtime(make_runtime):
    return make_runtime(clock=lambda: NOW, telegram={"secret_token": "scope-secret"},
                        whatsapp={"account_sid": SID, "auth_token": AUTH, "public_url": PUBLIC_URL})


def twilio_post(client, params):
    sig = RequestValidator(AUTH).compute_signature(PUBLIC_URL, params)
    return client.post("/webhooks/whatsapp", data=params, headers={"X-Twilio-Signature": sig})


def test_ids_longer_than_their_columns_are_a_400(runtime):
    client = create_app(runtime=runtime).test_client()
    long_chat = int("9" * 200)
    for update in ({"update_id": 1, "message": {"message_id": 1, "date": 1, "text": "halo",
                                                "chat": {"id": long_chat, "type": "private"}}},
                   {"update_id": int("7" * 120), "message": {"message_id": 1, "date": 1, "text": "halo",
                                                            "chat": {"id": 5, "type": "private"}}}):
        r = client.post("/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "scope-secret"})
        assert r.status_code == 400 and "longer than 100" in r.get_json()["error"]
    long_sid = "SM" + "a" * 120
    assert twilio_post(client, {"MessageSid": long_sid, "MessageStatus": "delivered"}).status_code == 400
    assert twilio_post(client, {"MessageSid": long_sid, "From": "whatsapp:+62811", "Body": "x"}).status_code == 400
    assert twilio_post(client, {"MessageSid": "SM1", "From": "whatsapp:+" + "6" * 60, "Body": "x"}).status_code == 400
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 0


# -- status callbacks ------------------------------------------------------------------------
def test_a_status_callback_marks_exactly_its_message(runtime):
    with transaction(runtime.sessions) as s:
        for pid in ("SMaaa1", "SMbbb1,SMbbb2,SMbbb3", "SM_x_1"):
            s.add(Outbox(channel="whatsapp", chat_id="+628110000001", payload={"text": "t"}, status="sent",
                         provider_message_id=pid))
    client = create_app(runtime=runtime).test_client()
    for sid in ("%", "SM%", "SMaaa", "SMbbb", "smaaa1", "SMbbb1,SMbbb2", "SM_x_", "SMbx_1", "SMaaa1%"):
        assert twilio_post(client, {"MessageSid": sid, "MessageStatus": "failed"}).status_code == 200
    with runtime.sessions() as s:
        assert s.scalars(select(Outbox.provider_status)).all() == [None, None, None]
    for sid in ("SMbbb2", "SM_x_1"):
        twilio_post(client, {"MessageSid": sid, "MessageStatus": "delivered"})
    with runtime.sessions() as s:
        assert s.scalars(select(Outbox.provider_status).order_by(Outbox.id)).all() == [None, "delivered", "delivered"]


# -- enrolment guesses -----------------------------------------------------------------------
def enrolled(runtime) -> int:
    with runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(OfficerIdentity))


def test_wrong_enrolment_codes_are_throttled_per_chat(make_runtime):
    clock = [NOW]
    runtime = make_runtime(clock=lambda: clock[0])
    with transaction(runtime.sessions) as s:
        _, code = invite(s, runtime.workflow, "admin", now=NOW)
    guesser = Chat(runtime, channel="telegram", chat_id="555")
    for n in range(ENROL_PER_CHAT):
        assert guesser.say(f"/petugas AAAA-BBBB-CC{n:02d}")[0].startswith("Kode itu tidak berlaku")
    assert guesser.say(f"/petugas {code}") == [
        "Terlalu banyak kode pendaftaran yang salah dari obrolan ini. Silakan coba lagi satu jam lagi, atau hubungi admin."]
    english = Chat(runtime, channel="telegram", chat_id="556", language_hint="en")
    for n in range(ENROL_PER_CHAT):
        english.say(f"/officer AAAA-BBBB-DD{n:02d}")
    assert english.say("/officer AAAA-BBBB-CCCC")[0].startswith("Too many wrong enrolment codes")
    assert enrolled(runtime) == 0  # the right code was not even looked at
    assert Chat(runtime, channel="telegram", chat_id="557").say(f"/petugas {code}")[0].startswith("Anda terdaftar")
    clock[0] = NOW + timedelta(hours=1, minutes=1)  # an hour later the chat may try again
    with transaction(runtime.sessions) as s:
        _, again = invite(s, runtime.workflow, "admin", now=clock[0])
    assert guesser.say(f"/petugas {again}")[0].startswith("Anda terdaftar")


def test_a_fresh_web_chat_cookie_per_guess_meets_the_limit_per_address(make_runtime):
    runtime = make_runtime(clock=lambda: NOW)
    with transaction(runtime.sessions) as s:
        _, code = invite(s, runtime.workflow, "admin", now=NOW)
    app = create_app(runtime=runtime)

    def guess(text, addr="203.0.113.7"):
        client = app.test_client()  # a new cookie every time
        client.post("/webchat/api/messages", json={"id": "guess-0001", "text": text},
                    environ_base={"REMOTE_ADDR": addr})
        return client.get("/webchat/api/messages?after=0", environ_base={"REMOTE_ADDR": addr}).get_json()

    for n in range(ENROL_PER_ORIGIN):
        assert guess(f"/petugas AAAA-BBBB-{n:04d}")["messages"][0]["text"].startswith("Kode itu tidak berlaku")
    assert guess(f"/petugas {code}")["messages"][0]["text"].startswith("Terlalu banyak kode pendaftaran")
    assert enrolled(runtime) == 0
    # From another address the code is looked at again (and the web chat alone cannot enrol)
    assert guess(f"/petugas {code}", addr="198.51.100.9")["messages"][0]["text"].startswith(
        "Petugas tidak dapat mendaftar hanya lewat web chat")


# -- dependency floors -----------------------------------------------------------------------
FIXED_IN = {  # the first release without the CVEs named in pyproject.toml
    "waitress": "3.0.1", "gunicorn": "23.0.0", "flask": "3.1.3", "werkzeug": "3.1.6", "jinja2": "3.1.6",
    "pillow": "11.3.0", "requests": "2.32.4", "urllib3": "2.6.3", "h11": "0.16.0", "aiosmtpd": "1.4.6",
}


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text.split("+")[0])[:3])


def test_dependency_floors_are_above_the_known_cves():
    import tomllib
    from importlib.metadata import version

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
    floors = {}
    for spec in project["dependencies"] + project["optional-dependencies"]["test"]:
        m = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?>=([\d.]+)", spec)
        if m:
            floors[m[1].lower()] = m[2]
    for name, fixed in FIXED_IN.items():
        assert name in floors and _release(floors[name]) >= _release(fixed), (name, floors.get(name), fixed)
        assert _release(version(name)) >= _release(floors[name]), (name, version(name))  # installed too
