"""The assistant's models, one module per part (see each module)."""

from .asks import Ask
from .kb import Entry, Synonym
from .wecom import Broadcast, Delivery, Inbound, Robot

__all__ = ["Ask", "Broadcast", "Delivery", "Entry", "Inbound", "Robot", "Synonym"]
