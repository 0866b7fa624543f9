"""Cells that a spreadsheet shows and never runs.

A text starting with = + - @ (or a tab or CR before one) is a formula to Excel and
LibreOffice when the file is opened: `=cmd|'/Ccalc'!A0` typed as an SP4N-LAPOR! id would
start a program on the officer's computer from the csv, and openpyxl writes any text
starting with "=" into an xlsx as a live formula. Such a text is prefixed with an
apostrophe (OWASP's rule for CSV injection), in csv and xlsx alike; numbers stay numbers.
"""
from __future__ import annotations

import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN = re.compile(r"^-$|^[+-]?\d+(?:[.,]\d+)?%?$")  # our "-" for none, "-1.5", "+62": not formulas


def cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN.match(value):
        return "'" + value
    return value


def row(values) -> list:
    return [cell(v) for v in values]


def rows(table) -> list[list]:
    return [row(r) for r in table]


def plain_text(text: str) -> str:
    """For matplotlib: `$...$` would be parsed as math (and `$\\frac{$` is an error)."""
    return text.replace("$", r"\$")
