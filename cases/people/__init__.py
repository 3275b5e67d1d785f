"""People and their reach: units, roles, scope, assignment eligibility, tokens."""
