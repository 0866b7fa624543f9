"""The settings' section base, and sections kept out of bot.config (its size)."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data):
        """`token = ""` in a file means "not set", like leaving the key out."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items()
                    if not (v == "" and k in cls.model_fields and cls.model_fields[k].default is None)}
        return data


class BackofficeSettings(_Section):
    """The officers' web back office at /kantor/ (and /o/<office>/kantor/)."""

    enabled: bool = True
    sign_in_minutes: int = Field(10, ge=1, le=60)  # a sign-in link or page code lives this long
    idle_hours: float = Field(12, gt=0, le=24 * 7)  # a session without a request this long ends
    max_days: float = Field(7, gt=0, le=90)  # and ends this long after sign-in, whatever happens
