"""The community services' models, one module per part (see each module)."""

from .deliberation import (
    CensusEntry,
    FollowUpTask,
    MatterType,
    Meeting,
    Proposal,
    Resolution,
    RosterMember,
    Topic,
    Vote,
)
from .markets import CoBuildingUnit, Market, ServiceItem, ServiceModule, Stall
from .places import Booking, BookingSeries, Facility, Room, ServicePosition
from .volunteers import Activity, HoursEntry, SignUp, Team, Volunteer
from .wishes import Photo, Wish, WishEvent

__all__ = [
    "Activity", "Booking", "BookingSeries", "CensusEntry", "CoBuildingUnit", "Facility",
    "FollowUpTask", "HoursEntry", "Market", "MatterType", "Meeting", "Photo", "Proposal",
    "Resolution", "Room", "RosterMember", "ServiceItem", "ServiceModule", "ServicePosition",
    "SignUp", "Stall", "Team", "Topic", "Volunteer", "Vote", "Wish", "WishEvent",
]  # fmt: skip
