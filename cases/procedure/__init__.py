"""The procedure as data: vocabulary, the transition table, its guards and rules,
the action context and commands. Pure: no Session, no SQL, no I/O (import-linter)."""
