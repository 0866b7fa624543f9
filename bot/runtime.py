"""Everything a process needs, built once from the settings: database, Redis, workflow."""
from __future__ import annotations

from contextlib import contextmanager
from functools import cached_property
from typing import Iterator

from sqlalchemy.orm import Session

from bot.config import Settings
from flows.calendar import OfficeCalendar
from flows.workflow import Workflow
from storage.cases import CaseService
from storage.db import make_engine, make_sessionmaker, transaction
from storage.migrate import is_current
from storage.redis_store import connect


class Runtime:
    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def workflow(self) -> Workflow:
        return self.settings.load_workflow()

    @cached_property
    def calendar(self) -> OfficeCalendar:
        return self.settings.calendar(self.workflow)

    @cached_property
    def engine(self):
        return make_engine(self.settings.database.url)

    @cached_property
    def sessions(self):
        return make_sessionmaker(self.engine)

    @cached_property
    def redis(self):
        return connect(self.settings.redis.url)

    @cached_property
    def cases(self) -> CaseService:
        return CaseService(self.workflow, self.calendar,
                           categories=self.settings.effective_categories(self.workflow),
                           ticket_prefix=self.settings.office.ticket_prefix)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    def schema_is_current(self) -> bool:
        return is_current(self.engine)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
