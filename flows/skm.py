"""The SKM questionnaire of PermenPAN-RB 14/2017 (its annex's sample form), as chat
questions: the service received, the respondent's profile, the nine elements.

Every question is optional. Each is answered by a button, its number in the list, or its
words ("sangat sesuai", "perempuan"); the age question also takes the age in years, kept
only as its group. The elements' keys and order are flows.ikm.ELEMENTS'; each element has
its own four answers, scored 1-4, worded as the regulation's form words them.
"""
from __future__ import annotations

from dataclasses import dataclass

from flows.choices import choose
from flows.i18n import t
from flows.ikm import ELEMENTS
from flows.messages import Button, Inbound, Reply, rows

SERVICE = "service"
SKIP, SKIP_PROFILE = "skm|skip", "skm|skip_profile"
# The profile the form asks, with the codes kept in survey_responses. Education and
# occupation are the form's lists (SD, SMP, SMA, S1, S2, S3; PNS, TNI, POLRI, swasta,
# wirausaha, lainnya) with the diplomas and students many offices' forms add: a D3
# graduate or a student has no box on the bare list.
PROFILE = {
    "age_group": ("lt20", "20_29", "30_39", "40_49", "50_59", "ge60"),
    "sex": ("L", "P"),
    "education": ("SD", "SMP", "SMA", "D1_D3", "D4_S1", "S2", "S3"),
    "occupation": ("PNS", "TNI", "POLRI", "swasta", "wirausaha", "pelajar", "lainnya"),
}
ELEMENT_KEYS = tuple(key for key, _, _ in ELEMENTS)
_AGE_BOUNDS = ((20, "lt20"), (30, "20_29"), (40, "30_39"), (50, "40_49"), (60, "50_59"))


@dataclass(frozen=True)
class Service:
    id: str
    label_id: str
    label_en: str


def keys(ask_service: bool) -> list[str]:
    """The questions in the order they are asked."""
    return ([SERVICE] if ask_service else []) + list(PROFILE) + list(ELEMENT_KEYS)


def options(key: str, lang: str, services: tuple[Service, ...] = ()) -> list[Button]:
    if key == SERVICE:
        choices = [Button(s.label_id if lang == "id" else s.label_en, f"skm|{key}|{s.id}") for s in services]
    elif key in PROFILE:
        choices = [Button(t(lang, f"skm.{key}.{code}"), f"skm|{key}|{code}") for code in PROFILE[key]]
    else:
        choices = [Button(t(lang, f"skm.a.{key}.{v}"), f"skm|{key}|{v}") for v in range(1, 5)]
    choices.append(Button(t(lang, "button.skip"), SKIP))
    if key in PROFILE:
        choices.append(Button(t(lang, "button.skip_profile"), SKIP_PROFILE))
    return choices


def question(key: str, lang: str, services: tuple[Service, ...] = ()) -> Reply:
    if key == SERVICE:
        text = t(lang, "skm.service")
    elif key in PROFILE:
        text = t(lang, f"skm.profile.{key}", n=list(PROFILE).index(key) + 1)
    else:
        text = t(lang, "skm.question", n=ELEMENT_KEYS.index(key) + 1, question=t(lang, f"skm.q.{key}"))
    choices = options(key, lang, services)
    skips = [b for b in choices if b.payload in (SKIP, SKIP_PROFILE)]
    answers = choices[:len(choices) - len(skips)]
    short = key in PROFILE and key != "occupation"  # short labels: two to a row on Telegram
    return Reply(text, rows(*answers, per_row=2 if short else 1) + rows(*skips, per_row=2))


def read(key: str, inbound: Inbound, lang: str, services: tuple[Service, ...] = ()):
    """What the answer says: a value (a code, a service id, or 1-4 for an element), SKIP,
    SKIP_PROFILE, or None when it names no option."""
    picked = choose(inbound, options(key, lang, services))
    if picked is None and key == "age_group":
        return age_group(inbound.plain_text)
    if picked is None or picked in (SKIP, SKIP_PROFILE):
        return picked
    value = picked.split("|", 2)[2]
    return int(value) if key in ELEMENT_KEYS else value


def age_group(text: str) -> str | None:
    """"34" or "34 tahun" -> "30_39"; not an age (a person of 10 to 120): None."""
    words = text.casefold().replace("thn", "tahun").split()
    if not words or not words[0].isdigit() or len(words) > 2 or (len(words) == 2 and words[1] not in (
            "tahun", "years", "year")):
        return None
    years = int(words[0])
    if not 10 <= years <= 120:
        return None
    return next((code for bound, code in _AGE_BOUNDS if years < bound), "ge60")
