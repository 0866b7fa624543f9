"""Fuzzed webhook bodies (hypothesis): never a 500, never a junk row, and every 2xx has
its stored effect: the delivery's inbound row, and a reply to its chat or (for what has
nothing to answer: an edited message, a group chat, a block) a recorded no-op."""
import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bot.channels.telegram import parse_update
from bot.channels.whatsapp import parse_message
from storage.models import InboundMessage, Outbox

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


def _last_outbox(runtime) -> int:
    with runtime.sessions() as s:
        return s.scalar(select(func.max(Outbox.id))) or 0


def _effects(runtime, channel, provider_id, after):
    """(the delivery's inbound row, the chats of the outbox rows written since `after`)."""
    with runtime.sessions() as s:
        row = s.scalar(select(InboundMessage).where(InboundMessage.channel == channel,
                                                    InboundMessage.provider_message_id == provider_id))
        chats = s.scalars(select(Outbox.chat_id).where(Outbox.id > after).order_by(Outbox.id)).all()
    return row, chats


def _check_stored(runtime, channel, provider_id, inbound, before, after):
    """A 2xx: the delivery is stored once, and answered or recorded as nothing to do."""
    row, chats = _effects(runtime, channel, provider_id, after)
    assert row is not None, f"a 2xx without its inbound row: {provider_id!r}"
    if _rows(runtime) == before:  # a repeat: already handled, nothing new may happen
        assert chats == []
        return
    if inbound is None or inbound.event != "message":  # a recorded no-op
        assert chats == [] and row.chat_id == (inbound.chat_id if inbound else None)
        return
    assert row.chat_id == inbound.chat_id
    assert chats and set(chats) == {inbound.chat_id}, "a message stored and not answered"


_CHAT = {"id": 4242, "type": "private"}
_USER = {"id": 4242, "is_bot": False, "first_name": "F"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(update_like, json_values))
# What people really send, so that every run sees the answered path, not only junk:
@example(body={"update_id": 901, "message": {"message_id": 1, "date": 1, "text": "/start", "chat": _CHAT,
                                             "from": _USER}})
@example(body={"update_id": 902, "message": {"message_id": 2, "date": 1, "chat": _CHAT, "from": _USER,
                                             "sticker": {"file_id": "s", "file_unique_id": "s", "width": 1,
                                                         "height": 1, "is_animated": False,
                                                         "is_video": False, "type": "regular"}}})
@example(body={"update_id": 903, "callback_query": {"id": "q", "chat_instance": "1", "data": "agree",
                                                    "from": _USER, "message": {"message_id": 1, "date": 1,
                                                                               "chat": _CHAT}}})
@example(body={"update_id": 1, "message": {"message_id": None, "date": 6.77680361916768e+16}})  # a date no clock holds
@example(body={"update_id": 904, "edited_message": {"message_id": 1, "date": 1, "text": "x", "chat": _CHAT}})
@example(body={"update_id": 905, "my_chat_member": {
    "chat": _CHAT, "from": _USER, "date": 1,
    "old_chat_member": {"status": "member", "user": _USER},
    "new_chat_member": {"status": "kicked", "user": _USER, "until_date": 0}}})
@example(body={"update_id": 901, "message": {"message_id": 1, "date": 1, "text": "/start", "chat": _CHAT,
                                             "from": _USER}})  # a repeat
def test_telegram_fuzz(make_runtime_cached, body):
    runtime, client = make_runtime_cached
    before, after = _rows(runtime), _last_outbox(runtime)
    r = client.post("/webhooks/telegram", data=json.dumps(body), content_type="application/json",
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert r.status_code in (200, 400), (r.status_code, body)
    if r.status_code == 400:
        assert _rows(runtime) == before  # refused: nothing stored
        assert _last_outbox(runtime) == after
        return
    uid, inbound, _ = parse_update(body)  # what the adapter read from it
    _check_stored(runtime, "telegram", uid, inbound, before, after)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=form_like)
@example(form={"MessageSid": "\x00", "MessageStatus": ""})  # found: PostgreSQL text holds no NUL (was a 500)
@example(form={"MessageSid": "SM\x00", "From": "whatsapp:+628123456789", "Body": "halo"})
@example(form={"MessageSid": "SMfuzz0001", "From": "whatsapp:+628123456789", "Body": "halo"})
def test_whatsapp_fuzz(make_runtime_cached, form):
    runtime, client = make_runtime_cached
    before, after = _rows(runtime), _last_outbox(runtime)
    signature = RequestValidator(AUTH).compute_signature(URL, form)
    r = client.post("/webhooks/whatsapp", data=form, headers={"X-Twilio-Signature": signature})
    assert r.status_code in (200, 400), (r.status_code, form)
    if r.status_code == 400:
        assert _rows(runtime) == before and _last_outbox(runtime) == after
        return
    if "MessageStatus" in form and "Body" not in form and "NumMedia" not in form:
        # a delivery report: it changes an outbox row's status at most, and stores nothing new
        assert _rows(runtime) == before and _last_outbox(runtime) == after
        return
    inbound = parse_message(form)
    _check_stored(runtime, "whatsapp", inbound.provider_message_id, inbound, before, after)
