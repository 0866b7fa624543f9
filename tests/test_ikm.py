"""IKM against tables computed by hand (PermenPAN-RB 14/2017)."""
from decimal import Decimal
from fractions import Fraction

import pytest

from flows.ikm import ELEMENTS, compute, from_nrr, grade

KEYS = [k for k, _, _ in ELEMENTS]


def test_a_small_table_by_hand():
    # three respondents; u4 (cost) skipped by one of them
    responses = [dict.fromkeys(KEYS, 4), dict.fromkeys(KEYS, 3), {**dict.fromkeys(KEYS, 3), "u4": None}]
    responses[2].pop("u4")
    result = compute(responses)
    assert result.respondents == 3 and result.answers["u4"] == 2
    assert result.nrr["u1"] == Fraction(10, 3) and result.nrr["u4"] == Fraction(7, 2)
    # sum of NRR = 8 x 10/3 + 7/2 = 30.1667; IKM = 3.35185...; x25 = 83.796... -> 83.80, B
    assert result.score == Decimal("83.80") and (result.grade, result.quality) == ("B", "Baik")


def test_the_one_ninth_trap():
    # 100 respondents, every element: 54 fours and 46 threes -> NRR 3.54, IKM 3.54, score 88.50: A.
    # With the rounded weight 0.11 it would be 9 x 3.54 x 0.11 x 25 = 87.62: B.
    responses = [dict.fromkeys(KEYS, 4)] * 54 + [dict.fromkeys(KEYS, 3)] * 46
    result = compute(responses)
    assert result.score == Decimal("88.50") and result.grade == "A"


def test_round_to_two_decimals_before_grading():
    # IKM x 25 = 88.305 exactly: rounded 88.31 -> A (unrounded it would fall below 88.31: B)
    nrr = {k: Fraction(7, 2) for k in KEYS[:8]} | {KEYS[8]: Fraction(18949, 5000)}
    index, score = from_nrr(nrr)
    assert index * 25 == Fraction(88305, 1000)
    assert score == Decimal("88.31") and grade(score) == ("A", "Sangat Baik")


@pytest.mark.parametrize("score, letter", [("100", "A"), ("88.31", "A"), ("88.30", "B"), ("76.61", "B"),
                                           ("76.60", "C"), ("65.00", "C"), ("64.99", "D"), ("25.00", "D")])
def test_grade_boundaries(score, letter):
    assert grade(Decimal(score))[0] == letter


def test_no_index_when_an_element_has_no_answer():
    result = compute([{k: 4 for k in KEYS[:8]}])
    assert result.index is None and result.grade is None and result.nrr["u9"] is None
