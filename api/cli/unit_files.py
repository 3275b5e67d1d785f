"""Reading an org-tree file (CSV or YAML) into UnitSpecs, with file:line in every error."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from cases.people.directory import UnitSpec

FIELDS = ("code", "name_zh", "name_en")


class UnitFileError(Exception):
    """The file cannot be imported; the message names the file and the line."""


def _spec(row: dict[str, object], where: str) -> UnitSpec:
    missing = [f for f in FIELDS if not str(row.get(f) or "").strip()]
    if missing:
        raise UnitFileError(f"{where}: missing {', '.join(missing)}")
    unknown = set(row) - {*FIELDS, "parent"}
    if unknown:
        raise UnitFileError(f"{where}: unknown column(s) {', '.join(sorted(map(str, unknown)))}")
    parent = str(row.get("parent") or "").strip() or None
    return UnitSpec(
        code=str(row["code"]).strip(),
        name_zh=str(row["name_zh"]).strip(),
        name_en=str(row["name_en"]).strip(),
        parent=parent,
        source=where,
    )


def read_csv(path: Path) -> list[UnitSpec]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        specs = []
        for row in reader:
            specs.append(
                _spec({k: v for k, v in row.items() if k is not None}, f"{path}:{reader.line_num}")
            )
        return specs


def read_yaml(path: Path) -> list[UnitSpec]:
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise UnitFileError(
            f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from exc
    if not isinstance(root, yaml.SequenceNode):
        raise UnitFileError(f"{path}:1: expected a list of units")
    specs = []
    for node in root.value:
        where = f"{path}:{node.start_mark.line + 1}"
        if not isinstance(node, yaml.MappingNode):
            raise UnitFileError(f"{where}: each unit must be a mapping")
        specs.append(_spec({k.value: v.value for k, v in node.value}, where))
    return specs


def read_units(path: Path) -> list[UnitSpec]:
    """UnitSpecs from ``path`` (.csv, .yaml or .yml); duplicate codes are an error."""
    if not path.exists():
        raise UnitFileError(f"{path}: no such file")
    specs = read_csv(path) if path.suffix.lower() == ".csv" else read_yaml(path)
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.code in seen:
            raise UnitFileError(
                f"{spec.source}: unit {spec.code!r} already defined at {seen[spec.code]}"
            )
        seen[spec.code] = spec.source
    return specs
