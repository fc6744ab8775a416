"""Recovery scenarios, DR contacts, checklists, drill runs and sign-off (see DESIGN.md)."""
