"""WhatsApp (Twilio) end to end: signed form posts in, a fake Twilio API out."""
import itertools
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bot.app import create_app
from bot.outbound import Dispatcher
from storage.models import Attachment, Case, InboundMessage, Outbox
from tests.conftest import wib
from tests.fakes.twilio_api import FakeTwilioAPI

SID = "AC" + "0" * 32
AUTH = "twilio-auth-token"
PUBLIC_URL = "https://aduan.contoh.go.id/webhooks/whatsapp"
CITIZEN = "+6281234567890"
_sids = itertools.count(1)


@pytest.fixture
def twilio_api():
    with FakeTwilioAPI(SID) as api:
        yield api


@pytest.fixture
def clock():
    return [wib(2025, 4, 8, 9, 0)]


@pytest.fixture
def runtime(make_runtime, twilio_api, clock):
    return make_runtime(clock=lambda: clock[0], whatsapp={
        "account_sid": SID, "auth_token": AUTH, "from_number": "+14155238886", "public_url": PUBLIC_URL,
        "api_base_url": twilio_api.url, "templates": {"default": "HX" + "1" * 32}})


@pytest.fixture
def client(runtime):
    return create_app(runtime=runtime).test_client()


def form(body=None, **extra):
    params = {"MessageSid": f"SM{next(_sids):032d}", "AccountSid": SID, "From": f"whatsapp:{CITIZEN}",
              "To": "whatsapp:+14155238886", "NumMedia": "0", "ProfileName": "Siti", "WaId": CITIZEN[1:]}
    if body is not None:
        params["Body"] = body
    params.update(extra)
    return params


def post(client, params, url=PUBLIC_URL, sign=True, headers=None):
    signature = RequestValidator(AUTH).compute_signature(url, params) if sign else None
    h = dict(headers or {})
    if signature:
        h["X-Twilio-Signature"] = signature
    # The app sees http://localhost/...: as behind a TLS-terminating proxy.
    return client.post("/webhooks/whatsapp", data=params, headers=h)


def drain(runtime, clock):
    Dispatcher(runtime, runtime.senders, clock=lambda: clock[0], sleep=lambda s: None,
               limits={"whatsapp": (0.0, 10_000)}).run_once()


def count(runtime, model, *where):
    with runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


@pytest.mark.parametrize("url, sign", [(PUBLIC_URL, False), ("http://localhost/webhooks/whatsapp", True),
                                       (PUBLIC_URL + "?x=1", True)])
def test_bad_or_missing_signatures_store_nothing(client, runtime, url, sign):
    assert post(client, form("halo"), url=url, sign=sign).status_code == 403
    assert count(runtime, InboundMessage, InboundMessage.channel == "whatsapp") == 0


def test_a_tampered_body_fails_the_signature(client, runtime):
    params = form("halo")
    signature = RequestValidator(AUTH).compute_signature(PUBLIC_URL, params)
    params["Body"] = "halo, diubah"
    r = client.post("/webhooks/whatsapp", data=params, headers={"X-Twilio-Signature": signature})
    assert r.status_code == 403 and count(runtime, InboundMessage) == 0


def test_behind_a_proxy_the_public_url_is_what_counts(client, runtime):
    r = post(client, form("halo"), headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "aduan.contoh.go.id"})
    assert r.status_code == 200 and r.content_type.startswith("text/xml")


def test_the_whole_intake_with_numbered_answers(client, runtime, twilio_api, clock):
    for body in ["halo", "1", "1", "Siti Aminah", "lewati", "satu",
                 "Lampu jalan di depan kantor mati sejak seminggu."]:
        assert post(client, form(body)).status_code == 200
    media = form("", NumMedia="1", MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM1/Media/ME1",
                 MediaContentType0="image/jpeg")
    assert post(client, media).status_code == 200
    for body in ["Lanjut", "Biasa", "1"]:
        post(client, form(body))
    drain(runtime, clock)
    sent = twilio_api.sent()
    assert all(p["To"] == f"whatsapp:{CITIZEN}" and p["From"] == "whatsapp:+14155238886" for p in sent)
    bodies = [p["Body"] for p in sent]
    consent = next(b for b in bodies if b.startswith("Sebelum mulai"))
    assert consent.endswith("1. Setuju\n2. Tidak setuju\n3. English")
    assert not any(b.startswith("Nomor telepon Anda?") for b in bodies)  # WhatsApp knows the number
    assert any("nomor tiket ADU-2025-000001" in b for b in bodies)
    with runtime.sessions() as s:
        case = s.scalar(select(Case))
        assert case.channel == "whatsapp" and case.citizen.phone == CITIZEN and case.citizen.name == "Siti Aminah"
        assert s.scalar(select(Attachment)).content_type == "image/jpeg"
        rows = s.scalars(select(Outbox).order_by(Outbox.id)).all()
        assert all(r.status == "sent" and r.provider_message_id.startswith("SM") for r in rows)


def test_status_callbacks_update_the_outbox_row(client, runtime, twilio_api, clock):
    post(client, form("halo"))
    drain(runtime, clock)
    with runtime.sessions() as s:
        row = s.scalars(select(Outbox).order_by(Outbox.id)).first()
    first_sid = row.provider_message_id
    callback = {"MessageSid": first_sid, "MessageStatus": "delivered", "AccountSid": SID,
                "From": "whatsapp:+14155238886", "To": f"whatsapp:{CITIZEN}"}
    assert post(client, callback).status_code == 200
    failed = dict(callback, MessageStatus="undelivered", ErrorCode="63016")
    with runtime.sessions() as s:
        assert s.get(Outbox, row.id).provider_status == "delivered"
    post(client, failed)
    with runtime.sessions() as s:
        row = s.get(Outbox, row.id)
        assert row.status == "failed" and "63016" in row.error
    assert count(runtime, InboundMessage) == 1  # callbacks are not messages


def test_after_24_hours_a_template_is_used_or_the_message_is_held(make_runtime, twilio_api, clock):
    for templates, expected in [({"default": "HX" + "1" * 32}, "sent"), ({}, "held")]:
        runtime = make_runtime(clock=lambda: clock[0], whatsapp={
            "account_sid": SID, "auth_token": AUTH, "from_number": "+14155238886", "public_url": PUBLIC_URL,
            "api_base_url": twilio_api.url, "templates": templates})
        client = create_app(runtime=runtime).test_client()
        post(client, form("halo", From=f"whatsapp:+62811{len(templates)}000000"))
        clock[0] += timedelta(hours=25)  # nobody sent it within the window
        drain(runtime, clock)
        with runtime.sessions() as s:
            rows = s.scalars(select(Outbox).where(Outbox.chat_id == f"+62811{len(templates)}000000").order_by(Outbox.id)).all()
            assert {r.status for r in rows} == {expected}
            if expected == "sent":
                assert rows[0].template_sid == "HX" + "1" * 32
                assert twilio_api.sent()[-1]["ContentSid"] == "HX" + "1" * 32
            else:
                assert "24-hour window" in rows[0].error
        # the citizen writes again: held messages go out
        post(client, form("halo lagi", From=f"whatsapp:+62811{len(templates)}000000"))
        drain(runtime, clock)
        with runtime.sessions() as s:
            assert count(runtime, Outbox, Outbox.status == "held") == 0
        clock[0] -= timedelta(hours=25)


@pytest.mark.parametrize("params", [{"From": "whatsapp:+628123"}, {"From": "+628123", "Body": "x"},
                                    {"From": "whatsapp:+628123", "MessageSid": "SM1", "NumMedia": "lots"}])
def test_malformed_but_signed_posts_are_400(client, runtime, params):
    assert post(client, params).status_code == 400
    assert count(runtime, InboundMessage) == 0


def test_twilio_errors(runtime, twilio_api, client, clock):
    post(client, form("halo"))
    twilio_api.script.append((500, {"code": 20500, "message": "Internal", "status": 500}))
    drain(runtime, clock)
    with runtime.sessions() as s:
        assert {r.status for r in s.scalars(select(Outbox))} == {"pending"}
    twilio_api.script.append((400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}))
    clock[0] += timedelta(minutes=5)
    drain(runtime, clock)
    with runtime.sessions() as s:
        statuses = [r.status for r in s.scalars(select(Outbox).order_by(Outbox.id))]
        assert statuses[0] == "failed"


def test_the_worker_fetches_media_with_the_account_credentials_and_nothing_else(client, runtime, twilio_api, tmp_path):
    from bot.attachments import AttachmentFetcher
    from storage.models import Attachment as Att

    path = f"/2010-04-01/Accounts/{SID}/Messages/MM1/Media/ME1"
    twilio_api.media[path] = b"photo-bytes"
    twilio_api.auth = AUTH
    with runtime.sessions() as s, s.begin():
        from storage.cases import add_attachments
        case = runtime.cases.open_case(s, kind="pengaduan", text="Lampu mati sejak lama", channel="whatsapp")
        add_attachments(s, case, [{"kind": "photo", "ref": twilio_api.url + path, "content_type": "image/jpeg"},
                                  {"kind": "photo", "ref": "http://169.254.169.254/latest/meta-data",
                                   "content_type": "image/jpeg"}], "whatsapp", case.created_at)
    fetcher = AttachmentFetcher(runtime, runtime.senders, tmp_path / "files", 1024)
    fetcher.run_once()
    with runtime.sessions() as s:
        good, bad = s.scalars(select(Att).order_by(Att.id)).all()
        assert open(good.stored_path, "rb").read() == b"photo-bytes"
        assert bad.stored_path is None and bad.fetch_error == "media URL is not on the Twilio API"


def test_a_button_payload_is_not_a_button_press(client, runtime):
    """Aduan sends no quick-reply templates: a ButtonPayload is read as its text, no more."""
    post(client, form("halo"))
    post(client, form("Setuju", ButtonPayload="c|accept|ADU-2025-000001"))  # the text agrees; the payload is ignored
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
        texts = [r.payload["text"] for r in s.scalars(select(Outbox).order_by(Outbox.id))]
    assert texts[-1].startswith("Silakan pilih menu:")
