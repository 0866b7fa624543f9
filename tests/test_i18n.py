"""Message catalogs: both languages have every key, with the same placeholders."""
import re
import string
from pathlib import Path

from flows.i18n import catalog, language, t

ROOT = Path(__file__).resolve().parent.parent


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_catalogs_have_the_same_keys_and_placeholders():
    ids, ens = catalog("id"), catalog("en")
    assert set(ids) == set(ens)
    for key in ids:
        assert placeholders(ids[key]) == placeholders(ens[key]), key


def test_every_key_the_code_uses_exists():
    used = set()
    for path in list((ROOT / "flows").glob("*.py")) + list((ROOT / "handlers").glob("*.py")):
        used |= set(re.findall(r"""\bt\(\s*\w+,\s*(?:f?)["']([a-z_.]+)["']""", path.read_text()))
    static = {k for k in used if not k.endswith(".")}
    assert static and static <= set(catalog("id")), static - set(catalog("id"))


def test_language_hints():
    assert [language(h) for h in ("en-GB", "en", "id", "ms", None, "")] == ["en", "en", "id", "id", "id", "id"]
    assert t("en", "cancelled") == "Cancelled. Nothing was sent."
