"""The direct read of a plain private text message gives exactly what python-telegram-bot's
parse gives, for every update of that shape; anything else goes through PTB."""
from hypothesis import given, settings, strategies as st

import bot.channels.telegram as telegram
from bot.channels.telegram import BadUpdate, parse_update, plain_text_message

ints = st.integers(min_value=-(2 ** 53), max_value=2 ** 53)
texts = st.text(max_size=60)
user = st.fixed_dictionaries({"id": ints, "is_bot": st.booleans(), "first_name": texts},
                             optional={"last_name": texts, "username": texts, "language_code": texts,
                                       "is_premium": st.booleans()})
chat = st.fixed_dictionaries({"id": ints, "type": st.sampled_from(["private", "group", "supergroup"])},
                             optional={"first_name": texts, "username": texts})
entity = st.fixed_dictionaries({"type": st.sampled_from(["bot_command", "bold", "url"]),
                                "offset": st.integers(0, 50), "length": st.integers(0, 50)})
message = st.fixed_dictionaries(
    {"message_id": ints, "date": st.integers(-10, 2 ** 40), "text": texts, "chat": chat, "from": user},
    optional={"entities": st.lists(entity, max_size=3)})
update = st.fixed_dictionaries({"update_id": ints, "message": message})


def through_ptb(data):
    try:
        fast, telegram.plain_text_message = telegram.plain_text_message, lambda d: None
        return parse_update(data)
    except BadUpdate as exc:
        return type(exc)
    finally:
        telegram.plain_text_message = fast


@settings(max_examples=400, deadline=None)
@given(update)
def test_the_direct_read_is_what_ptb_reads(data):
    direct = plain_text_message(data)
    if direct is not None:
        assert direct == through_ptb(data)


def test_commands_and_answers_take_the_direct_read_and_the_rest_does_not():
    start = {"update_id": 5, "message": {"message_id": 1, "date": 1744077600, "text": "/start",
                                         "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                                         "chat": {"id": 42, "type": "private", "first_name": "Siti"},
                                         "from": {"id": 42, "is_bot": False, "first_name": "Siti",
                                                  "language_code": "id"}}}
    uid, inbound, _ = plain_text_message(start)
    assert (uid, inbound.chat_id, inbound.command, inbound.language_hint) == ("5", "42", ("start", ""), "id")
    photo = {**start, "message": {**start["message"], "photo": [{"file_id": "x", "file_unique_id": "y",
                                                                 "width": 1, "height": 1}]}}
    reply = {**start, "message": {**start["message"], "reply_to_message": {"message_id": 3, "date": 1,
                                                                             "chat": start["message"]["chat"]}}}
    huge_date = {**start, "message": {**start["message"], "date": 6.8e16}}
    for other in (photo, reply, huge_date, {**start, "edited_message": start["message"]}):
        assert plain_text_message(other) is None
