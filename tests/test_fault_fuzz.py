"""Fuzzed webhook bodies (hypothesis): never a 500, never a junk row."""
import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from storage.models import Case, InboundMessage

SECRET, AUTH, URL = "fuzz-secret", "fuzz-auth", "https://aduan.example/webhooks/whatsapp"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20)
update_like = st.fixed_dictionaries({"update_id": st.integers(min_value=1, max_value=2**40)}, optional={
    "message": st.dictionaries(st.sampled_from(["message_id", "date", "chat", "from", "text", "photo", "contact",
                                                "sticker", "caption", "reply_to_message", "location"]),
                               json_values, max_size=6),
    "callback_query": st.dictionaries(st.sampled_from(["id", "data", "from", "message", "chat_instance"]),
                                      json_values, max_size=5),
    "my_chat_member": json_values, "edited_message": json_values})
form_like = st.dictionaries(st.sampled_from(["MessageSid", "From", "Body", "NumMedia", "MediaUrl0",
                                             "MediaContentType0", "ButtonPayload", "Latitude", "Longitude",
                                             "MessageStatus", "ErrorCode"]),
                            st.text(max_size=40), max_size=8)



def _rows(runtime) -> int:
    with runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(InboundMessage))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(update_like, json_values))
def test_telegram_fuzz(make_runtime_cached, body):
    runtime, client = make_runtime_cached
    before = _rows(runtime)
    r = client.post("/webhooks/telegram", data=json.dumps(body), content_type="application/json",
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert r.status_code in (200, 400), (r.status_code, body)
    if r.status_code == 400:
        assert _rows(runtime) == before  # refused: nothing stored


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=form_like)
@example(form={"MessageSid": "\x00", "MessageStatus": ""})  # found: PostgreSQL text holds no NUL (was a 500)
@example(form={"MessageSid": "SM\x00", "From": "whatsapp:+628123456789", "Body": "halo"})
def test_whatsapp_fuzz(make_runtime_cached, form):
    runtime, client = make_runtime_cached
    before = _rows(runtime)
    signature = RequestValidator(AUTH).compute_signature(URL, form)
    r = client.post("/webhooks/whatsapp", data=form, headers={"X-Twilio-Signature": signature})
    assert r.status_code in (200, 400), (r.status_code, form)
    if r.status_code == 400:
        assert _rows(runtime) == before
    with runtime.sessions() as s:
        # nothing half-made: every case has its opening event and a ticket
        assert s.scalar(select(func.count()).select_from(Case).where(Case.ticket.is_(None))) == 0
