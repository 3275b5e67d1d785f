"""All zh-CN text is Simplified Chinese, as a mainland university writes it, without pinyin.

The seed text reached us as Traditional Chinese with pinyin after some characters
(學(xué)); this scans every tracked text file for either trace.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import opencc
import pytest

ROOT = Path(__file__).resolve().parents[1]
HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
TONE = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
# A syllable with a tone mark in parentheses (ASCII or full-width) right after a character.
PINYIN = re.compile(rf"(?<=[\u3400-\u9fff])[（(][a-zü{TONE}]*[{TONE}][a-zü{TONE}]*[)）]")
THIS_FILE = Path(__file__).relative_to(ROOT).as_posix()


def _text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = []
    for name in listed:
        path = ROOT / name
        if name == THIS_FILE or not path.is_file():
            continue
        try:
            files.append((path, path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            continue  # binary
    return [path for path, text in files if HAN.search(text)]


def traditional_only(text: str, converter: opencc.OpenCC) -> list[str]:
    """The runs of Han characters in ``text`` that OpenCC's t2s would change."""
    return [run for run in HAN.findall(text) if converter.convert(run) != run]


def test_the_checks_find_what_they_look_for() -> None:
    converter = opencc.OpenCC("t2s")
    assert traditional_only("清風調查", converter) == ["清風調查"]
    assert traditional_only("清风调查", converter) == []
    assert PINYIN.findall("清风(fēng)调(diào)查") == ["(fēng)", "(diào)"]
    assert PINYIN.findall("督办（escalation_2）, 校团委(league)") == []


@pytest.mark.parametrize("path", _text_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_zh_cn_text_is_simplified_without_pinyin(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    converter = opencc.OpenCC("t2s")
    where = path.relative_to(ROOT)
    assert not traditional_only(text, converter), f"{where}: Traditional characters"
    assert not PINYIN.findall(text), f"{where}: pinyin annotations"
