"""Reading an org-tree file (CSV or YAML) into UnitSpecs, with name:line in every error:
the same reader for ``qingfeng units import`` and the console's import form."""

from __future__ import annotations

import csv
import io

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


def _read_csv(text: str, name: str) -> list[UnitSpec]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    specs = []
    for row in reader:
        specs.append(
            _spec({k: v for k, v in row.items() if k is not None}, f"{name}:{reader.line_num}")
        )
    return specs


def _read_yaml(text: str, name: str) -> list[UnitSpec]:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise UnitFileError(
            f"{name}{line}: not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from exc
    if not isinstance(root, yaml.SequenceNode):
        raise UnitFileError(f"{name}:1: expected a list of units")
    specs = []
    for node in root.value:
        where = f"{name}:{node.start_mark.line + 1}"
        if not isinstance(node, yaml.MappingNode):
            raise UnitFileError(f"{where}: each unit must be a mapping")
        specs.append(_spec({k.value: v.value for k, v in node.value}, where))
    return specs


def read_unit_file(data: bytes, *, name: str) -> list[UnitSpec]:
    """UnitSpecs from the bytes of file ``name`` (CSV if it ends in .csv, else YAML);
    UTF-8 only, and duplicate codes are an error."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnitFileError(f"{name}: not UTF-8 text (save the file as UTF-8)") from exc
    specs = _read_csv(text, name) if name.lower().endswith(".csv") else _read_yaml(text, name)
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.code in seen:
            raise UnitFileError(
                f"{spec.source}: unit {spec.code!r} already defined at {seen[spec.code]}"
            )
        seen[spec.code] = spec.source
    return specs
