"""Enrolment codes: single-use, hashed, expiring; a revoked officer is nobody."""
from datetime import timedelta

import pytest

from flows.presets import load_workflow
from storage.db import transaction
from storage.errors import InvalidInput, NotFound
from storage.officers import invite, linked_identity, redeem, revoke
from storage.units import add_unit
from tests.conftest import wib

WF = load_workflow("bps-kaltim")
NOW = wib(2025, 4, 8, 9, 0)


def test_invite_redeem_once(sessions):
    with transaction(sessions) as s:
        add_unit(s, "IPDS", "Integrasi Pengolahan dan Diseminasi")
        officer, code = invite(s, WF, "unit_kerja", "IPDS", "Budi", now=NOW)
    with transaction(sessions) as s:
        # typed in lower case and without dashes still works
        linked = redeem(s, code.lower().replace("-", ""), "telegram", "5550001", now=NOW + timedelta(hours=1))
        assert linked.id == officer.id and linked.enrolled_at is not None
    with pytest.raises(NotFound, match="not valid"):
        with transaction(sessions) as s:
            redeem(s, code, "whatsapp", "+6281200000001", now=NOW)
    with sessions() as s:
        found = linked_identity(s, "telegram", "5550001").officer
        assert found.role == "unit_kerja" and found.unit.code == "IPDS"


def test_an_expired_code_is_refused(sessions):
    with transaction(sessions) as s:
        _, code = invite(s, WF, "admin_provinsi", ttl=timedelta(hours=2), now=NOW)
    with pytest.raises(InvalidInput, match="expired"):
        with transaction(sessions) as s:
            redeem(s, code, "telegram", "1", now=NOW + timedelta(hours=3))


def test_revoked_officers_are_nobody_and_their_codes_die(sessions):
    with transaction(sessions) as s:
        a, code_a = invite(s, WF, "admin_provinsi", now=NOW)
        b, code_b = invite(s, WF, "admin_nasional", now=NOW)
        redeem(s, code_a, "telegram", "42", now=NOW)
    with transaction(sessions) as s:
        revoke(s, a.id)
        revoke(s, b.id)
    with sessions() as s:
        assert not linked_identity(s, "telegram", "42").officer.active  # the chat is refused (handlers.inbound)
    with pytest.raises(NotFound):
        with transaction(sessions) as s:
            redeem(s, code_b, "telegram", "43", now=NOW)


def test_one_chat_one_officer(sessions):
    with transaction(sessions) as s:
        _, c1 = invite(s, WF, "admin_provinsi", now=NOW)
        _, c2 = invite(s, WF, "kepala", now=NOW)
        redeem(s, c1, "telegram", "77", now=NOW)
    with pytest.raises(InvalidInput, match="already linked"):
        with transaction(sessions) as s:
            redeem(s, c2, "telegram", "77", now=NOW)
