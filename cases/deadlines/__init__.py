"""Working-day deadlines: the calendar, each stage's ladder of steps, firing them,
the appeal window's close, recomputing after a calendar change."""
