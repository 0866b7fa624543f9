import pytest

from flows.errors import SlaParseError
from flows.sla import Sla, parse_sla


@pytest.mark.parametrize("text, expected", [
    ("3 working days", Sla(3, "days", True)),
    ("1 working day", Sla(1, "days", True)),
    ("1 working hour", Sla(1, "hours", True)),
    ("5 working minutes", Sla(5, "minutes", True)),
    ("10 minutes", Sla(10, "minutes", False)),
    ("5 days", Sla(5, "days", False)),
    ("2 hours", Sla(2, "hours", False)),
    ("10 hari kerja", Sla(10, "days", True)),
    ("1 jam kerja", Sla(1, "hours", True)),
    ("15 menit", Sla(15, "minutes", False)),
    ("  3 Working Days ", Sla(3, "days", True)),
])
def test_parse(text, expected):
    assert parse_sla(text) == expected


@pytest.mark.parametrize("text", ["", "three days", "3 weeks", "0 days", "-1 days",
                                  "3 working days kerja", "3 hari kerjaa", "3.5 days", None,
                                  "3651 days", "999999999 minutes"])
def test_unreadable_sla_is_refused_with_an_example(text):
    with pytest.raises(SlaParseError, match="cannot read|at least 1|expected a text|written twice|too long"):
        parse_sla(text)


def test_labels_in_both_languages():
    assert parse_sla("3 working days").label("id") == "3 hari kerja"
    assert parse_sla("1 working hour").label("en") == "1 working hour"
    assert str(parse_sla("10 menit")) == "10 minutes"
