"""Fetching citizens' files: intake keeps the provider's reference (a Telegram file id,
a Twilio media URL, a web chat upload); a worker copies the file into the attachments
folder, where officers open it (bot/files.py)."""
from __future__ import annotations

import logging
import mimetypes
from pathlib import Path

from sqlalchemy import select

from storage.models import Attachment, utcnow

log = logging.getLogger(__name__)
FETCHABLE = ("photo", "document", "voice", "audio", "video")


class FetchError(Exception):
    """A file that cannot be fetched, and retrying will not change that."""


class AttachmentFetcher:
    def __init__(self, runtime, senders: dict, folder: Path, max_bytes: int):
        self.runtime, self.senders, self.folder, self.max_bytes = runtime, senders, folder, max_bytes

    def run_once(self, limit: int = 10) -> int:
        if not self.senders:
            return 0
        for source in self.senders.values():
            if hasattr(source, "purge"):  # the web chat's uploads no complaint took
                source.purge()
        with self.runtime.sessions() as s:
            rows = s.scalars(select(Attachment).where(
                Attachment.fetched_at.is_(None), Attachment.channel.in_(tuple(self.senders)),
                Attachment.media_type.in_(FETCHABLE), Attachment.provider_ref.is_not(None),
                Attachment.fetch_error.is_(None)).order_by(Attachment.id).limit(limit)).all()
        for row in rows:
            self._fetch(row)
        return len(rows)

    def _fetch(self, row: Attachment) -> None:
        stored, error = None, None
        try:
            data = self.senders[row.channel].fetch(row.provider_ref, self.max_bytes)
            ext = mimetypes.guess_extension(row.content_type or "") or ".bin"
            path = self.folder / str(row.case_id) / f"{row.id}{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            stored = str(path)
        except FetchError as exc:
            error = str(exc)[:500]
        except Exception as exc:  # network trouble: the next round tries again
            log.warning("attachment %s: %s", row.id, type(exc).__name__)
            return
        with self.runtime.transaction() as s:
            live = s.get(Attachment, row.id)
            if live is None or live.provider_ref is None:  # erased while we fetched (bot/privacy.py)
                if stored:
                    Path(stored).unlink(missing_ok=True)
                return
            live.fetched_at = utcnow()
            live.stored_path, live.fetch_error = stored, error
        if stored and hasattr(self.senders[row.channel], "fetched"):
            self.senders[row.channel].fetched(row.provider_ref)  # the upload's holding copy goes
