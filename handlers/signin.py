"""`/masuk` (`/login`) from an officer's enrolled chat: a one-time link into the web back
office, or, with a code (`/masuk CODE`), the sign-in page that shows that code is let in."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from flows.i18n import t
from flows.messages import Reply
from handlers.office import Office
from storage.models import Officer
from storage.web_sessions import confirm_code, new_link

log = logging.getLogger(__name__)


def sign_in(session: Session, office: Office, officer: Officer, args: str, now: datetime) -> list[Reply]:
    lang, url = officer.language, office.backoffice_url
    if url is None:
        return [Reply(t(lang, "officer.signin.off"))]
    minutes = int(office.sign_in_ttl.total_seconds() // 60)
    if args.strip():
        if not confirm_code(session, officer, args.strip()[:20], now):
            log.info("officer #%s typed a web sign-in code that does not work", officer.id)
            return [Reply(t(lang, "officer.signin.code_bad"))]
        log.info("officer #%s let a browser into the back office with its code", officer.id)
        return [Reply(t(lang, "officer.signin.code_ok"))]
    if not url.startswith(("http://", "https://")):  # no server.public_url: no link to give
        return [Reply(t(lang, "officer.signin.no_url", path=url + "/masuk"))]
    token = new_link(session, officer, now, office.sign_in_ttl)
    log.info("officer #%s asked for a web sign-in link", officer.id)
    return [Reply(t(lang, "officer.signin.link", url=f"{url}/masuk/{token}", minutes=minutes))]
