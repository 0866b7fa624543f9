"""The complaint form as a pure step function: push a message, read the replies."""
import pytest

from flows import intake
from flows.messages import Attachment, Inbound
from flows.intake import Rules, Step, normalize_phone

RULES = Rules(categories=(("perpustakaan", "Layanan Perpustakaan", "Library"),
                          ("lainnya", "Lainnya", "Other")))


def msg(text=None, button=None, attachments=(), phone=None):
    return Inbound("telegram", "1", "u", text=text, button=button, attachments=tuple(attachments), phone=phone)


def at(step: Step, **draft) -> dict:
    return {"step": step.value, "draft": {"attachments": [], **draft}, "editing": False}


def run(state, *messages, rules=RULES, lang="id"):
    replies = []
    out = None
    for m in messages:
        state, out = intake.step(state, m, rules, lang)
        replies += [r.text for r in out.replies]
    return state, replies, out


def test_begin_asks_the_name_and_knows_the_whatsapp_number():
    state, out = intake.begin(Rules(phone_from_channel=True), "id", phone="+6281234567890")
    assert state["step"] == "name" and state["draft"]["phone"] == "+6281234567890"
    assert out.replies[-1].text == "Siapa nama Anda?"
    state, _, _ = run(state, msg("Siti"), msg(button="skip"), rules=Rules(phone_from_channel=True))
    assert state["step"] == "kind"  # the phone step is skipped: the number is known


@pytest.mark.parametrize("name, ok, message", [
    ("😀😀😀", False, "Nama harus berisi huruf"),
    ("A", False, "2 sampai 100"),
    ("  Siti   Aminah ", True, None),
    ("Nguyễn Thị Hoa", True, None),
    # what a citizen sends who still sees the menu or a numbered list is not a name
    ("1", False, "“1” adalah nomor pilihan, bukan nama"),
    ("2.", False, "“2.” adalah nomor pilihan, bukan nama"),
    ("Ajukan pengaduan", False, "“Ajukan pengaduan” adalah pilihan menu, bukan nama"),
    ("cek STATUS pengaduan", False, "adalah pilihan menu, bukan nama"),
    ("English", False, "adalah pilihan menu, bukan nama"),
])
def test_names(name, ok, message):
    state, replies, _ = run(at(Step.NAME), msg(name))
    assert (state["step"] == "email") == ok
    if ok:
        assert state["draft"]["name"] == " ".join(name.split())
    else:
        assert message in replies[0] and replies[1] == "Siapa nama Anda?"


@pytest.mark.parametrize("text, expected", [
    ("budi@contoh.go.id", "budi@contoh.go.id"),
    ("Budi@Contoh.COM", "Budi@contoh.com"),
    ("budi@contoh", None),
    ("budi contoh.com", None),
    ("a@b@c.com", None),
])
def test_emails(text, expected):
    state, replies, _ = run(at(Step.EMAIL), msg(text))
    if expected:
        assert state["draft"]["email"] == expected and state["step"] == "phone"
    else:
        assert state["step"] == "email" and "tidak valid" in replies[0]


def test_email_can_be_skipped_only_when_the_workflow_allows():
    state, _, _ = run(at(Step.EMAIL), msg(button="skip"))
    assert state["step"] == "phone" and state["draft"]["email"] is None
    strict = Rules(require_email=True)
    state, replies, _ = run(at(Step.EMAIL), msg("Lewati"), rules=strict)
    assert state["step"] == "email" and "tidak valid" in replies[0]


@pytest.mark.parametrize("raw, e164", [
    ("081234567890", "+6281234567890"), ("6281234567890", "+6281234567890"),
    ("+62 812-3456-7890", "+6281234567890"), ("81234567890", "+6281234567890"),
    ("(021) 3456 7890", "+622134567890"), ("12345", None), ("halo", None),
])
def test_phone_numbers_become_e164(raw, e164):
    assert normalize_phone(raw) == e164


def test_phone_from_the_contact_button_and_the_keyboard_goes_away():
    contact = msg(attachments=[Attachment("contact")], phone="6281234567890")
    state, replies, out = run(at(Step.PHONE), contact)
    assert state["draft"]["phone"] == "+6281234567890" and state["step"] == "kind"
    assert out.replies[0].remove_keyboard and "disimpan" in replies[0]


def test_choices_by_button_number_word_or_label():
    for m in (msg(button="aspirasi"), msg("2"), msg("dua"), msg("Aspirasi"), msg("aspirasi.")):
        state, _, _ = run(at(Step.KIND), m)
        assert state["draft"]["kind"] == "aspirasi", m
    state, replies, _ = run(at(Step.KIND), msg("7"))
    assert state["step"] == "kind" and "tidak tersedia" in replies[0]


@pytest.mark.parametrize("message, says", [
    (msg(attachments=[Attachment("sticker", "s1")]), "Mohon jawab dengan teks"),
    (msg(attachments=[Attachment("photo", "p1")]), "Mohon jawab dengan teks"),
    (msg(""), "kosong"),
    (msg(button="biasa"), "tidak berlaku"),
])
def test_unexpected_input_in_a_text_step_reprompts(message, says):
    state, replies, _ = run(at(Step.TEXT), message)
    assert state["step"] == "text" and says in replies[0] and "Tuliskan pengaduan" in replies[1]


def test_a_5000_character_complaint_is_kept_whole():
    text = ("Antrian di loket pelayanan sangat panjang. " * 120)[:5000]
    state, replies, _ = run(at(Step.TEXT), msg(text))
    assert state["draft"]["text"] == text and "5000 karakter" in replies[0]


def test_a_too_long_complaint_is_refused_with_the_reason_and_nothing_cut():
    state, replies, _ = run(at(Step.TEXT), msg("x" * 9000))
    assert state["step"] == "text" and "text" not in state["draft"]
    assert "9000 karakter; maksimal 8000" in replies[0] and "Tidak ada yang kami potong" in replies[0]


def test_a_complaint_in_parts_is_joined():
    # Telegram splits at 4,096 characters: the second part arrives as a new message.
    first, second = "a" * 4096, "b" * 904
    state, replies, _ = run(at(Step.TEXT), msg(first), msg(second))
    assert state["draft"]["text"] == first + "\n" + second
    assert "sekarang 5001 karakter" in replies[-2]
    state, replies, _ = run(state, msg("c" * 3000))
    assert state["draft"]["text"] == first + "\n" + second and "maksimal 8000" in replies[0]


def test_attachments_limits():
    rules = Rules(max_attachments=2, max_attachment_bytes=1000)
    state, replies, _ = run(at(Step.ATTACHMENTS, text="x" * 20),
                            msg(attachments=[Attachment("photo", "p1", "image/jpeg", 10)]),
                            msg(attachments=[Attachment("document", "d1", "application/x-msdownload", 10)]),
                            msg(attachments=[Attachment("voice", "v1", "audio/ogg", 5000)]),
                            msg(attachments=[Attachment("sticker", "s1")]),
                            msg(attachments=[Attachment("document", "d2", "application/pdf", 10, "a.pdf")]),
                            msg(attachments=[Attachment("photo", "p3", "image/jpeg", 10)]),
                            rules=rules)
    assert [a["ref"] for a in state["draft"]["attachments"]] == ["p1", "d2"]
    text = " ".join(replies)
    for expected in ("(1/2)", "application/x-msdownload tidak diterima", "terlalu besar (maksimal 0 MB)",
                     "Stiker", "(2/2)", "Paling banyak 2"):
        assert expected in text, expected


def test_summary_confirm_edit_and_submit():
    draft = dict(name="Siti", email=None, phone=None, kind="pengaduan", category="lainnya",
                 text="Lampu jalan mati sejak seminggu", privacy="rahasia")
    state = at(Step.PRIVACY, **{k: v for k, v in draft.items() if k != "privacy"})
    state, replies, _ = run(state, msg("2"))
    assert state["step"] == "confirm" and "Kerahasiaan: Rahasia" in replies[-1] and "Kategori: Lainnya" in replies[-1]
    state, replies, _ = run(state, msg(button="edit"), msg(button="kind"))
    assert state["step"] == "kind" and state["editing"]
    state, replies, _ = run(state, msg("3"))
    assert state["step"] == "confirm" and "Jenis: Permintaan informasi" in replies[-1]
    state, _, out = run(state, msg(button="submit"))
    assert state is None and out.effects[0].draft["kind"] == "permintaan_informasi"


def test_cancel_from_the_summary():
    state, _, out = run(at(Step.CONFIRM, name="Siti", kind="aspirasi", text="x" * 20, privacy="biasa"),
                        msg("Batal"))
    assert state is None and isinstance(out.effects[0], intake.Cancel)


def test_english():
    state, replies, _ = run(at(Step.NAME), msg("🙂"), lang="en")
    assert replies == ["A name must contain letters.", "What is your name?"]


@pytest.mark.parametrize("kind, asked, head", [
    ("pengaduan", "Tuliskan pengaduan Anda", "Periksa kembali pengaduan Anda:"),
    ("aspirasi", "Tuliskan aspirasi atau saran Anda", "Periksa kembali aspirasi Anda:"),
    ("permintaan_informasi", "Tuliskan informasi yang Anda minta", "Periksa kembali permintaan informasi Anda:"),
])
def test_the_words_follow_the_kind_of_report(kind, asked, head):
    rules = Rules()  # an office without categories
    state, replies, _ = run(at(Step.KIND, name="Siti", email=None, phone=None), msg(button=kind), rules=rules)
    assert state["step"] == "text" and replies[-1].startswith(asked)
    state, replies, _ = run(state, msg("Mohon data inflasi Kota Sorong 2024 per bulan."), msg(button="next"),
                            msg(button="biasa"), rules=rules)
    assert replies[-1].startswith(head)
    assert "Kategori" not in replies[-1]  # no categories here: no "Kategori: -" line
    english = intake.prompt(dict(state, step="text"), rules, "en").text
    assert english.startswith({"pengaduan": "Describe your complaint", "aspirasi": "Describe your suggestion",
                               "permintaan_informasi": "Describe the information you are asking for"}[kind])
