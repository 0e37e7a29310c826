"""STUB — being replaced by the working-calendar implementation."""
from pydantic import BaseModel


class CalendarConfig(BaseModel):
    timezone: str = "Europe/Moscow"
