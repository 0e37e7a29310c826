"""STUB — being replaced by the SLA clock implementation."""
from pydantic import BaseModel


class SlaConfig(BaseModel):
    pass
