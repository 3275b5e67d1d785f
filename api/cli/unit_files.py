"""Reading an org-tree file (CSV or YAML) from disk: cases/people/unit_files.py reads it,
the same reader as the console's import form."""

from __future__ import annotations

from pathlib import Path

from cases.people.directory import UnitSpec
from cases.people.unit_files import UnitFileError, read_unit_file

__all__ = ["UnitFileError", "read_units"]


def read_units(path: Path) -> list[UnitSpec]:
    """UnitSpecs from ``path`` (.csv, .yaml or .yml); duplicate codes are an error."""
    if not path.exists():
        raise UnitFileError(f"{path}: no such file")
    return read_unit_file(path.read_bytes(), name=str(path))
