"""The red partners' models, one module per part (see each module)."""

from .agreements import Agreement
from .calls import Application, Call, PanelScore
from .credit import CreditEntry, Dismissal
from .documents import Document
from .evaluation import DimensionScore, Evaluation
from .feedback import Feedback
from .projects import Fund, Project, StageDecision
from .registry import Contact, Partner, Qualification
from .supervision import Finding, Inspection, SupervisionGroup

__all__ = [
    "Agreement", "Application", "Call", "Contact", "CreditEntry", "DimensionScore",
    "Dismissal", "Document", "Evaluation", "Feedback", "Finding", "Fund", "Inspection",
    "PanelScore", "Partner", "Project", "Qualification", "StageDecision", "SupervisionGroup",
]  # fmt: skip
