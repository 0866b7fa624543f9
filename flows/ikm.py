"""The community satisfaction index (IKM) of PermenPAN-RB 14/2017.

Nine elements, each answered 1-4. NRR of an element = the mean of its answers; IKM =
the sum of the NRRs times 1/9 (exactly 1/9: the rounded 0.111 moves grades); the
converted score = IKM x 25, rounded to two decimals BEFORE grading; grades:
A 88.31-100 (Sangat Baik), B 76.61-88.30 (Baik), C 65.00-76.60 (Kurang Baik),
D 25.00-64.99 (Tidak Baik).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

ELEMENTS = (
    ("u1", "Persyaratan", "Requirements"),
    ("u2", "Sistem, mekanisme dan prosedur", "System, mechanism and procedure"),
    ("u3", "Waktu penyelesaian", "Completion time"),
    ("u4", "Biaya/tarif", "Cost/tariff"),
    ("u5", "Produk spesifikasi jenis pelayanan", "Service product specification"),
    ("u6", "Kompetensi pelaksana", "Staff competence"),
    ("u7", "Perilaku pelaksana", "Staff behaviour"),
    ("u8", "Penanganan pengaduan, saran dan masukan", "Handling of complaints, suggestions and input"),
    ("u9", "Sarana dan prasarana", "Facilities and infrastructure"),
)
GRADES = ((Decimal("88.31"), "A", "Sangat Baik"), (Decimal("76.61"), "B", "Baik"),
          (Decimal("65.00"), "C", "Kurang Baik"), (Decimal("25.00"), "D", "Tidak Baik"))


@dataclass(frozen=True)
class Ikm:
    respondents: int
    answers: dict[str, int]  # element -> how many answered it
    nrr: dict[str, Fraction | None]
    index: Fraction | None  # IKM, 1..4
    score: Decimal | None  # converted, 25..100, two decimals
    grade: str | None
    quality: str | None


def grade(score: Decimal) -> tuple[str, str]:
    for floor, letter, quality in GRADES:
        if score >= floor:
            return letter, quality
    return "D", "Tidak Baik"


def from_nrr(nrr: dict[str, Fraction | None]) -> tuple[Fraction | None, Decimal | None]:
    if any(v is None for v in nrr.values()) or len(nrr) != len(ELEMENTS):
        return None, None  # an element nobody answered: no index can be given
    index = sum(nrr.values(), Fraction(0)) * Fraction(1, 9)
    return index, converted(index)


def converted(value: Fraction) -> Decimal:
    """An IKM (or an element's NRR) on the 25-100 scale: x 25, rounded half up to two decimals."""
    exact = Decimal(value.numerator) * 25 / Decimal(value.denominator)
    return exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def compute(responses: list[dict]) -> Ikm:
    """`responses`: one dict per respondent, {"u1": 4, ...}; a skipped element is absent.
    Someone who skipped every question is not a respondent."""
    responses = [r for r in responses if any(isinstance(v, int) and 1 <= v <= 4 for v in r.values())]
    answers, totals = {}, {}
    for key, _, _ in ELEMENTS:
        values = [r[key] for r in responses if isinstance(r.get(key), int) and 1 <= r[key] <= 4]
        answers[key], totals[key] = len(values), sum(values)
    return from_totals(len(responses), answers, totals)


def from_totals(respondents: int, answers: dict[str, int], totals: dict[str, int]) -> Ikm:
    """The index from how many answered each element and the sum of their answers (what SQL
    aggregates give): NRR = sum / count, exactly."""
    answers = {key: answers.get(key, 0) for key, _, _ in ELEMENTS}
    nrr = {key: Fraction(totals[key], n) if n else None for key, n in answers.items()}
    index, score = from_nrr(nrr)
    letter, quality = grade(score) if score is not None else (None, None)
    return Ikm(respondents, answers, nrr, index, score, letter, quality)
