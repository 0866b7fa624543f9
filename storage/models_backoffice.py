"""The web back office's tables: sign-ins waiting to be used, and officers' web sessions
(kept apart from storage.models, which imports this module)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models import Base, Officer, OfficeOwned, utcnow
from storage.types import UTCDateTime


class WebSignIn(OfficeOwned, Base):
    """A one-time way in, alive a few minutes: a link an officer asked for in chat (`link`,
    its officer known), or a code a sign-in page shows (`code`: the browser that asked
    holds a nonce; the officer is set when they type `/masuk CODE` in chat). Only hashes."""

    __tablename__ = "web_sign_ins"
    __table_args__ = (UniqueConstraint("office_id", "secret_hash"), Index("ix_web_sign_ins_expires", "expires_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # link | code
    secret_hash: Mapped[str] = mapped_column(String(64))  # the link's token, or the code shown
    browser_hash: Mapped[str | None] = mapped_column(String(64))  # code: the waiting browser's nonce
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # code: typed in chat
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(OfficeOwned, Base):
    """An officer signed in on the web: the cookie holds a random token, this row its hash.
    It ends on sign-out, when the officer is revoked, idle too long or too old."""

    __tablename__ = "web_sessions"
    __table_args__ = (UniqueConstraint("token_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(10))  # link | code
    language: Mapped[str] = mapped_column(String(5), default="id")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the longest a session lives
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    officer: Mapped[Officer] = relationship()
