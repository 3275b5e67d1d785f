"""Data at rest is the owner's alone, whatever the umask (issue 18, item 7).

Every `qingfeng` process starts with ``private_process()`` (api/cli/main.py), so what it
creates, and what its children create (the notifier, the runner, the Prefect server inherit
the umask), is 0600 or 0700. `up` then calls ``make_private`` on the data directory: a file
left readable by an earlier start under another umask, or copied in, is made 0600 again
(directories 0700). SQLite creates the -wal and -shm files with the database file's mode,
so they follow it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from config.settings import Settings

PRIVATE_UMASK = 0o077
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def private_process() -> None:
    """From now on, this process (and every child it starts) creates owner-only files."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """``path`` as an owner-only directory (made, with its parents, when missing)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIR)
    return path


def _tighten(path: Path, mode: int, wanted: int) -> None:
    if stat.S_IMODE(mode) != wanted:
        path.chmod(wanted)


def make_private_tree(root: Path) -> None:
    """``root`` and everything below it owner-only: directories 0700, files 0600 (symbolic
    links are not followed; a file that vanishes meanwhile is skipped)."""
    todo = [private_dir(root)]
    while todo:
        directory = todo.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                try:
                    if entry.is_symlink():
                        continue
                    mode = entry.stat(follow_symlinks=False).st_mode
                    if stat.S_ISDIR(mode):
                        _tighten(Path(entry.path), mode, PRIVATE_DIR)
                        todo.append(Path(entry.path))
                    elif stat.S_ISREG(mode):
                        _tighten(Path(entry.path), mode, PRIVATE_FILE)
                except FileNotFoundError:
                    continue


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or ":memory:" in url:
        return None
    return Path(url.removeprefix(prefix).split("?", 1)[0])


def make_private(settings: Settings) -> None:
    """The data directory, everything in it, and a SQLite database kept elsewhere, with its
    -wal and -shm files, owner-only."""
    make_private_tree(settings.data_dir)
    database = sqlite_file(settings.effective_database_url)
    if database is not None:
        for suffix in SQLITE_COMPANIONS:
            companion = database.with_name(database.name + suffix)
            if companion.is_file():
                companion.chmod(PRIVATE_FILE)
