"""Recovery scenarios, DR contacts, checklists, drill runs and sign-off (see DESIGN.md)."""

from drills.models.drill import (
    MISSING_AFTER,
    OVERDUE_AFTER,
    UNSIGNED_AFTER,
    Criterion,
    Drill,
    DrillNote,
    DrillStep,
    FollowUp,
    Outcome,
    Participant,
    SignOff,
    Status,
)
from drills.models.runbook import ChecklistItem, ChecklistTemplate, Contact, Scenario

__all__ = [
    "MISSING_AFTER", "OVERDUE_AFTER", "UNSIGNED_AFTER", "ChecklistItem", "ChecklistTemplate", "Contact", "Criterion",
    "Drill", "DrillNote", "DrillStep", "FollowUp", "Outcome", "Participant", "Scenario", "SignOff", "Status",
]
