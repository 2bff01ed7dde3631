"""tracker: an event-sourced tracker of diplomatic developments."""
