"""Fetching citizens' files: intake keeps the provider's reference (a Telegram file id,
a Twilio media URL, a web chat upload); a worker copies the file into the attachments
folder, where officers open it (bot/files.py)."""
from __future__ import annotations

import logging
import mimetypes
from pathlib import Path

from sqlalchemy import and_, or_, select

from storage.models import Attachment, utcnow

log = logging.getLogger(__name__)
FETCHABLE = ("photo", "document", "voice", "audio", "video")


class FetchError(Exception):
    """A file that cannot be fetched, and retrying will not change that."""


class AttachmentFetcher:
    """`sources`: {office id: {channel: what fetches its files}} (asked each round), or a
    plain {channel: ...} of the first office. A file is fetched through its own office's
    bot or account."""

    def __init__(self, runtime, sources, folder: Path, max_bytes: int):
        from bot.outbound import per_office

        self.runtime, self._sources, self.folder, self.max_bytes = runtime, per_office(sources), folder, max_bytes

    def run_once(self, limit: int = 10) -> int:
        sources = self._sources()
        wanted = [(office_id, tuple(by_channel)) for office_id, by_channel in sources.items() if by_channel]
        if not wanted:
            return 0
        purged = set()
        for by_channel in sources.values():
            for source in by_channel.values():
                if hasattr(source, "purge") and id(source) not in purged:  # uploads no complaint took
                    purged.add(id(source))
                    source.purge()
        with self.runtime.sessions() as s:  # across offices
            rows = s.scalars(select(Attachment).where(
                or_(*(and_(Attachment.office_id == o, Attachment.channel.in_(chs)) for o, chs in wanted)),
                Attachment.fetched_at.is_(None),
                Attachment.media_type.in_(FETCHABLE), Attachment.provider_ref.is_not(None),
                Attachment.fetch_error.is_(None)).order_by(Attachment.id).limit(limit)).all()
        # the files settled (stored, or failed for good); one the network failed waits for
        # the next look, which is not hurried for it
        return sum(self._fetch(sources[row.office_id][row.channel], row) for row in rows)

    def _fetch(self, source, row: Attachment) -> bool:
        stored, error = None, None
        try:
            data = source.fetch(row.provider_ref, self.max_bytes)
            ext = mimetypes.guess_extension(row.content_type or "") or ".bin"
            path = self.folder / str(row.case_id) / f"{row.id}{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            stored = str(path)
        except FetchError as exc:
            error = str(exc)[:500]
        except Exception as exc:  # network trouble: the next round tries again
            log.warning("attachment %s: %s", row.id, type(exc).__name__)
            return False
        with self.runtime.transaction() as s:
            live = s.get(Attachment, row.id)
            if live is None or live.provider_ref is None:  # erased while we fetched (bot/privacy.py)
                if stored:
                    Path(stored).unlink(missing_ok=True)
                return True
            live.fetched_at = utcnow()
            live.stored_path, live.fetch_error = stored, error
        if stored and hasattr(source, "fetched"):
            source.fetched(row.provider_ref)  # the upload's holding copy goes
        return True
