"""The complaint form as a pure step function: (state, inbound) -> (state, outcome).

The state is a plain dict (JSON in the database) so a half-filled complaint survives
any restart: {"step": "email", "draft": {...}, "editing": false}. Steps are named,
never numbered. The function does no I/O; submitting is an effect (`Submit`) the
handler carries out.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from flows.case_fields import Kind, Privacy
from flows.choices import choose
from flows.i18n import LANGUAGES, catalog, t
from flows.messages import Attachment, Button, Inbound, Outcome, Reply, rows


class Step(StrEnum):
    NAME = "name"
    EMAIL = "email"
    PHONE = "phone"
    KIND = "kind"
    CATEGORY = "category"
    TEXT = "text"
    ATTACHMENTS = "attachments"
    PRIVACY = "privacy"
    CONFIRM = "confirm"
    EDIT = "edit"


ORDER = [Step.NAME, Step.EMAIL, Step.PHONE, Step.KIND, Step.CATEGORY, Step.TEXT,
         Step.ATTACHMENTS, Step.PRIVACY, Step.CONFIRM]
MEDIA = ("photo", "document", "voice", "audio", "video", "location")
MEDIA_TYPES = ("image/", "audio/", "video/", "application/pdf", "text/plain",
               "application/msword", "application/vnd.openxmlformats-officedocument.",
               "application/vnd.ms-excel", "application/vnd.oasis.opendocument.")
SKIP, NEXT = "skip", "next"


@dataclass(frozen=True)
class Rules:
    """What the office's workflow and settings ask of the form."""

    require_email: bool = False
    email_followups: bool = False  # the office sends follow-ups by email: say so when asking
    name_optional: bool = False  # an officer recording a complaint may not know the name
    categories: tuple[tuple[str, str, str], ...] = ()  # (id, label_id, label_en)
    phone_from_channel: bool = False  # WhatsApp: the sender's number is known
    share_contact: bool = False  # Telegram: a "send my number" button can be offered
    min_text: int = 10
    max_text: int = 8000
    max_attachments: int = 5
    max_attachment_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class Submit:
    draft: dict


@dataclass(frozen=True)
class Cancel:
    pass


def begin(rules: Rules, lang: str, phone: str | None = None) -> tuple[dict, Outcome]:
    draft = {"attachments": []}
    if rules.phone_from_channel and phone:
        draft["phone"] = phone
    state = {"step": Step.NAME.value, "draft": draft, "editing": False}
    return state, Outcome([Reply(t(lang, "intake.start")), prompt(state, rules, lang)])


def _applies(step: Step, draft: dict, rules: Rules) -> bool:
    if step is Step.PHONE:
        return not (rules.phone_from_channel and draft.get("phone"))
    if step is Step.CATEGORY:
        return bool(rules.categories)
    return True


def _advance(state: dict, rules: Rules, lang: str, done: Step, notes=()) -> tuple[dict, Outcome]:
    """Go to the step after `done` (or back to the summary when editing)."""
    draft = state["draft"]
    if state.get("editing"):
        nxt = Step.CONFIRM
    else:
        nxt = next(s for s in ORDER[ORDER.index(done) + 1:] if _applies(s, draft, rules))
    state = dict(state, step=nxt.value, editing=False if nxt is Step.CONFIRM else state.get("editing"))
    return state, Outcome([*notes, prompt(state, rules, lang)])


def _options(step: Step, rules: Rules, lang: str, draft: dict) -> list[Button]:
    if step is Step.KIND:
        return [Button(t(lang, f"kind.{k.value}"), k.value) for k in Kind]
    if step is Step.CATEGORY:
        return [Button(label_id if lang == "id" else label_en, cid)
                for cid, label_id, label_en in rules.categories]
    if step is Step.PRIVACY:
        return [Button(t(lang, f"privacy.{p.value}"), p.value) for p in Privacy]
    if step is Step.CONFIRM:
        return [Button(t(lang, "button.submit"), "submit"), Button(t(lang, "button.edit"), "edit"),
                Button(t(lang, "button.cancel"), "cancel")]
    if step is Step.EDIT:
        fields = [s for s in ORDER[:-1] if _applies(s, draft, rules) or s is Step.PHONE]
        return [Button(t(lang, f"field.{s.value}"), s.value) for s in fields]
    return []


def prompt(state: dict, rules: Rules, lang: str) -> Reply:
    """The question of the current step, with its buttons."""
    step, draft = Step(state["step"]), state["draft"]
    skip = Button(t(lang, "button.skip"), SKIP)
    if step is Step.EMAIL:
        # The prompt says what the address is for, and promises emails only when they go out.
        key = {(True, True): "intake.ask_email", (True, False): "intake.ask_email_required",
               (False, True): "intake.ask_email_followups",
               (False, False): "intake.ask_email_optional"}[(rules.require_email, rules.email_followups)]
        return Reply(t(lang, key), () if rules.require_email else rows(skip))
    if step is Step.PHONE and rules.share_contact:
        return Reply(t(lang, "intake.ask_phone"), rows(skip), ask_contact=t(lang, "button.share_phone"))
    if step is Step.PHONE:  # no button to press where the channel has none: type the number
        return Reply(t(lang, "intake.ask_phone_typed"), rows(skip))
    if step is Step.ATTACHMENTS:
        return Reply(t(lang, "intake.ask_attachments", max=rules.max_attachments),
                     rows(Button(t(lang, "button.next"), NEXT)), wants_files=True)
    if step is Step.TEXT:  # a suggestion or an information request is not a complaint
        return Reply(t(lang, f"intake.ask_text.{draft.get('kind') or Kind.PENGADUAN.value}",
                       min=rules.min_text, max=rules.max_text))
    if step is Step.NAME and rules.name_optional:
        return Reply(t(lang, "intake.ask_name"), rows(skip))
    if step is Step.CONFIRM:
        return Reply(summary(draft, rules, lang), rows(*_options(step, rules, lang, draft)))
    options = _options(step, rules, lang, draft)
    return Reply(t(lang, f"intake.ask_{step.value}"), rows(*options))


def summary(draft: dict, rules: Rules, lang: str) -> str:
    category = next((label_id if lang == "id" else label_en for cid, label_id, label_en
                     in rules.categories if cid == draft.get("category")), None)
    text = draft.get("text", "")
    shown = text if len(text) <= 500 else text[:500] + t(lang, "intake.more_chars", n=len(text) - 500)
    kind = draft.get("kind") or Kind.PENGADUAN.value
    return t(lang, "intake.summary", head=t(lang, f"intake.summary_head.{kind}"),
             name=draft.get("name") or "-", email=draft.get("email") or "-", phone=draft.get("phone") or "-",
             kind=t(lang, f"kind.{draft['kind']}") if draft.get("kind") else "-",
             # no categories at this office (or none chosen): no "Kategori: -" line
             category=t(lang, "intake.summary_category", category=category) + "\n" if category else "",
             text=shown, attachments=len(draft.get("attachments", [])),
             privacy=t(lang, f"privacy.{draft['privacy']}") if draft.get("privacy") else "-")


def step(state: dict, inbound: Inbound, rules: Rules, lang: str) -> tuple[dict | None, Outcome]:
    """Take one message into the form. A None state means the form is finished."""
    current = Step(state["step"])
    return _HANDLERS[current](state, inbound, rules, lang)


# -- one function per step ---------------------------------------------------------------
def _again(state, rules, lang, key: str, **values) -> tuple[dict, Outcome]:
    return state, Outcome([Reply(t(lang, key, **values)), prompt(state, rules, lang)])


def _text_or_again(state, inbound, rules, lang):
    """The typed text, or a re-prompt when a photo, sticker, old button or nothing came."""
    if inbound.button is not None:
        return None, _again(state, rules, lang, "intake.stale_button")
    if inbound.attachments and not inbound.plain_text:
        return None, _again(state, rules, lang, "intake.text_expected")
    if not inbound.plain_text:
        return None, _again(state, rules, lang, "intake.empty")
    return inbound.plain_text, None


def _put(state: dict, **values) -> dict:
    return dict(state, draft={**state["draft"], **values})


def _name(state, inbound, rules, lang):
    if rules.name_optional and choose(inbound, [Button(t(lang, "button.skip"), SKIP)]) == SKIP:
        return _advance(_put(state, name=None), rules, lang, Step.NAME)
    text, again = _text_or_again(state, inbound, rules, lang)
    if again:
        return again
    name = " ".join(text.split())
    # "1" or "Ajukan pengaduan" answers a menu the citizen still sees, not "what is your name?"
    if name.rstrip(".").isdigit():
        return _again(state, rules, lang, "intake.name_is_choice", value=name[:20])
    if name.casefold() in _labels():
        return _again(state, rules, lang, "intake.name_is_label", value=name[:60])
    if not any(unicodedata.category(c).startswith("L") for c in name):
        return _again(state, rules, lang, "intake.name_letters")
    if not 2 <= len(name) <= 100:
        return _again(state, rules, lang, "intake.name_length")
    return _advance(_put(state, name=name), rules, lang, Step.NAME)


@lru_cache(maxsize=1)
def _labels() -> frozenset[str]:
    """Every menu and button label in every language, folded: none of them is a name."""
    return frozenset(text.casefold() for lang in LANGUAGES for key, text in catalog(lang).items()
                     if key.startswith(("menu.", "button.", "kind.", "privacy.", "field.")))


def _email(state, inbound, rules, lang):
    if not rules.require_email and choose(inbound, [Button(t(lang, "button.skip"), SKIP)]) == SKIP:
        return _advance(_put(state, email=None), rules, lang, Step.EMAIL)
    text, again = _text_or_again(state, inbound, rules, lang)
    if again:
        return again
    try:
        email = validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        return _again(state, rules, lang, "intake.email_invalid", value=text[:80])
    return _advance(_put(state, email=email), rules, lang, Step.EMAIL)


def normalize_phone(text: str) -> str | None:
    """E.164 for 0812..., 62812..., +62 812-..., 812...; None if it is no phone number."""
    digits = "".join(c for c in text if c.isdigit() or c == "+")
    if digits.startswith("62"):
        digits = "+" + digits
    elif digits.startswith("8"):
        digits = "0" + digits
    try:
        number = phonenumbers.parse(digits, "ID")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone(state, inbound, rules, lang):
    if choose(inbound, [Button(t(lang, "button.skip"), SKIP)]) == SKIP:
        note = Reply(t(lang, "intake.phone_skipped"), remove_keyboard=True)
        return _advance(_put(state, phone=None), rules, lang, Step.PHONE, [note])
    shared = next((a for a in inbound.attachments if a.kind == "contact"), None)
    raw = inbound.phone if shared else None
    if raw is None:
        text, again = _text_or_again(state, inbound, rules, lang)
        if again:
            return again
        raw = text
    phone = normalize_phone(raw)
    if phone is None:
        return _again(state, rules, lang, "intake.phone_invalid")
    note = Reply(t(lang, "intake.phone_saved", phone=phone), remove_keyboard=True)
    return _advance(_put(state, phone=phone), rules, lang, Step.PHONE, [note])


def _choice(field: str, current: Step):
    def handle(state, inbound, rules, lang):
        options = _options(current, rules, lang, state["draft"])
        picked = choose(inbound, options)
        if picked is None:
            key = "intake.text_expected_choice" if inbound.attachments else "intake.choice_unknown"
            return _again(state, rules, lang, key)
        return _advance(_put(state, **{field: picked}), rules, lang, current)
    return handle


def _complaint_text(state, inbound, rules, lang):
    text, again = _text_or_again(state, inbound, rules, lang)
    if again:
        return again
    if len(text) < rules.min_text:
        return _again(state, rules, lang, "intake.text_short", min=rules.min_text, n=len(text))
    if len(text) > rules.max_text:
        return _again(state, rules, lang, "intake.text_long", max=rules.max_text, n=len(text))
    note = Reply(t(lang, "intake.text_received", n=len(text)))
    return _advance(_put(state, text=text), rules, lang, Step.TEXT, [note])


def _attachments(state, inbound, rules, lang):
    if choose(inbound, [Button(t(lang, "button.next"), NEXT)]) == NEXT:
        return _advance(state, rules, lang, Step.ATTACHMENTS)
    draft = state["draft"]
    if inbound.attachments:
        files = list(draft.get("attachments", []))
        notes = []
        for a in inbound.attachments:
            problem = attachment_problem(a, rules, len(files))
            if problem:
                notes.append(Reply(t(lang, problem[0], **problem[1])))
            else:
                files.append(a.as_dict())
                notes.append(Reply(t(lang, "intake.attachment_received", n=len(files),
                                     max=rules.max_attachments)))
        state = _put(state, attachments=files)
        if inbound.plain_text:  # a caption continues the complaint text
            state, extra = _continue_text(state, inbound.plain_text, rules, lang)
            notes.append(extra)
        return state, Outcome(notes + [prompt(state, rules, lang)])
    if inbound.plain_text:
        # Long complaints arrive in parts (Telegram splits at 4,096 characters, WhatsApp
        # at 1,600): more text here continues the complaint; nothing is ever cut.
        state, note = _continue_text(state, inbound.plain_text, rules, lang)
        return state, Outcome([note, prompt(state, rules, lang)])
    return _again(state, rules, lang, "intake.empty")


def _continue_text(state, more: str, rules, lang) -> tuple[dict, Reply]:
    text = state["draft"].get("text", "")
    joined = f"{text}\n{more}" if text else more
    if len(joined) > rules.max_text:
        return state, Reply(t(lang, "intake.text_long_total", max=rules.max_text, n=len(joined)))
    return _put(state, text=joined), Reply(t(lang, "intake.text_added", n=len(joined)))


def attachment_problem(a: Attachment, rules: Rules, count: int = 0) -> tuple[str, dict] | None:
    """Why this file cannot be taken (a message key and its values), or None. A channel that
    receives the file itself (the web chat's upload) asks before it stores anything."""
    if a.kind not in MEDIA:
        return "intake.attachment_kind", {}
    if count >= rules.max_attachments:
        return "intake.attachment_too_many", {"max": rules.max_attachments}
    if a.size is not None and a.size > rules.max_attachment_bytes:
        return "intake.attachment_too_big", {"mb": rules.max_attachment_bytes // (1024 * 1024)}
    if a.kind == "document" and a.content_type and not a.content_type.startswith(MEDIA_TYPES):
        return "intake.attachment_type", {"type": a.content_type}
    return None


def _confirm(state, inbound, rules, lang):
    picked = choose(inbound, _options(Step.CONFIRM, rules, lang, state["draft"]))
    if picked == "submit":
        return None, Outcome(effects=[Submit(state["draft"])])
    if picked == "cancel":
        return None, Outcome(effects=[Cancel()])
    if picked == "edit":
        state = dict(state, step=Step.EDIT.value)
        return state, Outcome([prompt(state, rules, lang)])
    return _again(state, rules, lang, "intake.choice_unknown")


def _edit(state, inbound, rules, lang):
    picked = choose(inbound, _options(Step.EDIT, rules, lang, state["draft"]))
    if picked is None:
        return _again(state, rules, lang, "intake.choice_unknown")
    state = dict(state, step=picked, editing=True)
    if picked == Step.TEXT.value:
        state = _put(state, text="")
    return state, Outcome([prompt(state, rules, lang)])


_HANDLERS = {
    Step.NAME: _name,
    Step.EMAIL: _email,
    Step.PHONE: _phone,
    Step.KIND: _choice("kind", Step.KIND),
    Step.CATEGORY: _choice("category", Step.CATEGORY),
    Step.TEXT: _complaint_text,
    Step.ATTACHMENTS: _attachments,
    Step.PRIVACY: _choice("privacy", Step.PRIVACY),
    Step.CONFIRM: _confirm,
    Step.EDIT: _edit,
}
