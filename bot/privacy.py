"""Running the privacy rules of storage.privacy against the database and the files.

Files are deleted inside the transaction, before its commit: should the commit fail, the
rows still name the files, which are gone, and the next purge does the rows again (it
finds them not anonymised); the other order could leave a file nobody points to. A case's
folder under intake.attachments_dir goes whole, so a copy the rows no longer name (a
fetch that raced an erasure) goes with it.
"""
from __future__ import annotations

import logging
import shutil
from datetime import datetime
from pathlib import Path

from storage import privacy

log = logging.getLogger(__name__)


def retention_cut(runtime, now: datetime) -> datetime:
    """Cases closed before this are past retention."""
    years = runtime.settings.privacy.retention_years
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February, in a year that has none
        return now.replace(year=now.year - years, day=28)


def purge(runtime, now: datetime | None = None, batch: int = 100) -> privacy.Counts:
    """Anonymise every case past retention, a batch a transaction; counts of what was done."""
    now = now or runtime.clock()
    cut, total = retention_cut(runtime, now), privacy.Counts()
    while True:
        with runtime.transaction() as s:
            counts = privacy.purge_batch(s, cut, now, limit=batch)
            delete_files(runtime, counts)
        total.merge(counts)
        if counts.cases < batch:
            break
    if total.cases or total.surveys:
        log.info("privacy purge: %s", total.summary())  # counts only
    return total


def delete_files(runtime, counts: privacy.Counts) -> None:
    """The stored copies, the cases' folders and the web chat uploads no case took yet."""
    folder = Path(runtime.settings.intake.attachments_dir)
    for path in counts.files:
        Path(path).unlink(missing_ok=True)
    for case_id in counts.case_ids:
        shutil.rmtree(folder / str(case_id), ignore_errors=True)
    for ref in counts.uploads:
        runtime.uploads.discard(ref)
