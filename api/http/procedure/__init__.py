"""The procedure page: the stage machine drawn from the TRANSITIONS table (public)."""
