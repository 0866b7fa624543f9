"""The fixed vocabularies of a case: report kinds, privacy options, channels, actors."""
from enum import StrEnum


class Kind(StrEnum):
    """SP4N-LAPOR! report kinds."""

    PENGADUAN = "pengaduan"  # complaint
    ASPIRASI = "aspirasi"  # suggestion
    INFORMASI = "permintaan_informasi"  # information request


class Privacy(StrEnum):
    BIASA = "biasa"  # ordinary
    RAHASIA = "rahasia"  # confidential: the report is hidden from the public
    ANONIM = "anonim"  # anonymous: the reporter's identity is hidden from officers


class Channel(StrEnum):
    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    WEBCHAT = "webchat"
    # Complaints an officer records on the citizen's behalf (issue: /catat).
    FRONT_DESK = "front_desk"
    COMPLAINT_BOX = "complaint_box"
    PHONE = "phone"
    EMAIL = "email"
    LAPOR = "sp4n_lapor"


class ActorType(StrEnum):
    CITIZEN = "citizen"
    OFFICER = "officer"
    SYSTEM = "system"
    ADMIN = "admin"  # someone at the command line


LABELS = {
    Kind.PENGADUAN: ("Pengaduan", "Complaint"),
    Kind.ASPIRASI: ("Aspirasi", "Suggestion"),
    Kind.INFORMASI: ("Permintaan Informasi", "Information request"),
    Privacy.BIASA: ("Biasa", "Ordinary"),
    Privacy.RAHASIA: ("Rahasia", "Confidential"),
    Privacy.ANONIM: ("Anonim", "Anonymous"),
}


def label(value: StrEnum, lang: str = "id") -> str:
    pair = LABELS.get(value)
    return value.value if pair is None else pair[0 if lang == "id" else 1]
