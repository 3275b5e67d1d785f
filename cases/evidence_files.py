"""Evidence files on disk: streamed in chunks, limited, typed by content, stripped of location.

A file is written to a temporary file beside its final place (data_dir/evidence/<case id>/,
owner-only), hashed while it is written, and renamed into place only once every check has
passed; on any failure the temporary file is removed, and a stored file whose transaction
rolls back is removed again: nothing is left on disk without its row.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import filetype
import pillow_heif
from PIL import Image, ImageOps
from sqlalchemy import event, func
from sqlmodel import Session, col, select

from cases.audit import append_event, case_chain
from cases.people.access import case_for
from cases.procedure.clock import utcnow
from cases.procedure.commands import Attachment
from cases.procedure.errors import InvalidInput, NotFound, TooLarge, UnsupportedMediaType
from cases.procedure.policy import EvidenceFiles
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, Evidence, Person, pk

DOWNLOADED_EVENT = "evidence.downloaded"
CHUNK = 64 * 1024
HEAD = 8192  # what filetype reads to tell a type by its magic bytes
MB = 1024 * 1024
# Images whose metadata Pillow can strip: filetype's extension -> Pillow's format.
STRIPPABLE = {"jpg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP", "heic": "HEIF"}
# What a stripped copy keeps of the original's info: how it looks, not where or with what.
pillow_heif.register_heif_opener()  # iPhone photos (HEIC) are read and rewritten too
KEPT_INFO = ("transparency", "icc_profile", "dpi", "duration", "loop", "background", "gamma")


@dataclass(frozen=True)
class StoredFile:
    stored_name: str
    media_type: str
    size_bytes: int
    sha256: str  # of the stored copy
    original_sha256: str  # of the file as sent


@dataclass(frozen=True)
class EvidenceFile:
    path: Path
    media_type: str
    filename: str


def case_dir(store: Path, case: ConductCase) -> Path:
    """The directory of one case's files (owner-only), made when missing."""
    directory = store / str(pk(case))
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    store.chmod(0o700)
    directory.chmod(0o700)
    return directory


def _used_bytes(session: Session, case: ConductCase) -> int:
    total = session.exec(
        select(func.coalesce(func.sum(col(Evidence.size_bytes)), 0)).where(
            Evidence.case_id == pk(case)
        )
    ).one()
    return int(total or 0)


def store_file(
    session: Session,
    case: ConductCase,
    limits: EvidenceFiles,
    attachment: Attachment,
    *,
    claimed_sha256: str | None,
) -> StoredFile:
    """Check and store an uploaded file for ``case``; removed again if the transaction
    rolls back. TooLarge (413), UnsupportedMediaType (415) or InvalidInput on ``sha256``."""
    directory = case_dir(attachment.store, case)
    room = limits.max_case_mb * MB - _used_bytes(session, case)
    with _temporary(directory) as (sent, sent_path):
        kind, original, size = _copy_checked(attachment.content, sent, limits, room)
        if claimed_sha256 is not None and claimed_sha256 != original:
            raise InvalidInput(
                f"the file's SHA-256 is {original}, not the one given", field="sha256"
            )
        stored_path, stored, size = sent_path, original, size
        if case.anonymous and kind.mime.startswith("image/"):
            stored_path, stored, size = _stripped(sent_path, kind, directory)
        name = secrets.token_hex(16)
        os.replace(stored_path, directory / name)
    _discard_on_rollback(session, directory / name)
    return StoredFile(name, kind.mime, size, stored, original)


def add_item(
    session: Session,
    case: ConductCase,
    limits: EvidenceFiles,
    attachment: Attachment,
    *,
    description: str,
    filename: str | None,
    recorded_by: int | None,
    now: datetime,
) -> Evidence:
    """Store ``attachment`` for ``case`` and add its evidence row (flushed: it has an id).
    No recorder: the reporter added it."""
    stored = store_file(session, case, limits, attachment, claimed_sha256=None)
    item = Evidence(
        case_id=pk(case),
        description=description,
        filename=filename,
        sha256=stored.sha256,
        original_sha256=stored.original_sha256,
        stored_name=stored.stored_name,
        media_type=stored.media_type,
        size_bytes=stored.size_bytes,
        recorded_by=recorded_by,
        from_reporter=recorded_by is None,
        recorded_at=now,
    )
    session.add(item)
    session.flush()
    return item


@contextlib.contextmanager
def _temporary(directory: Path) -> Iterator[tuple[BinaryIO, Path]]:
    """A new owner-only file in ``directory``, removed unless renamed away by the caller."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=".upload-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out, path
    finally:
        path.unlink(missing_ok=True)


def _copy_checked(
    source: BinaryIO, out: BinaryIO, limits: EvidenceFiles, room: int
) -> tuple[Any, str, int]:
    """Copy ``source`` to ``out`` in chunks: its type (by magic bytes), SHA-256 and size."""
    digest, size, kind = hashlib.sha256(), 0, None
    head = b""
    while chunk := source.read(CHUNK):
        size += len(chunk)
        _check_size(size, limits, room)
        if kind is None:
            head += chunk
            if len(head) < HEAD:
                continue
            kind = _allowed_kind(head, limits)
            chunk, head = head, b""
        digest.update(chunk)
        out.write(chunk)
    if kind is None:  # shorter than HEAD
        kind = _allowed_kind(head, limits)
        digest.update(head)
        out.write(head)
    out.flush()
    os.fsync(out.fileno())
    return kind, digest.hexdigest(), size


def _check_size(size: int, limits: EvidenceFiles, room: int) -> None:
    if size > limits.max_file_mb * MB:
        raise TooLarge(f"a file may be at most {limits.max_file_mb} MB", field="file")
    if size > room:
        raise TooLarge(
            f"the case's files may be at most {limits.max_case_mb} MB together", field="file"
        )


def _allowed_kind(head: bytes, limits: EvidenceFiles) -> Any:
    kind = filetype.guess(head)
    if kind is None or kind.extension not in limits.allowed:
        found = f"'{kind.mime}'" if kind else "an unknown type"
        raise UnsupportedMediaType(
            f"the file's content is {found}; accepted: {', '.join(limits.allowed)}",
            field="file",
        )
    return kind


def _stripped(source: Path, kind: Any, directory: Path) -> tuple[Path, str, int]:
    """A copy of the image without EXIF (GPS, camera), XMP or comments, turned upright."""
    fmt = STRIPPABLE.get(kind.extension)
    if fmt is None:  # an image type Pillow cannot rewrite cannot be cleaned
        raise UnsupportedMediaType(
            f"'{kind.mime}' images cannot be stripped of their location on an anonymous "
            f"report; send JPEG, PNG, GIF, WebP or HEIC",
            field="file",
        )
    fd, name = tempfile.mkstemp(dir=directory, prefix=".clean-")
    target = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, Image.open(source) as image:
            _save_clean(image, out, fmt)
        return target, _sha256(target), target.stat().st_size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        target.unlink(missing_ok=True)
        raise UnsupportedMediaType(
            f"the file cannot be read as a {kind.mime} image", field="file"
        ) from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _save_clean(image: Image.Image, out: BinaryIO, fmt: str) -> None:
    kept: dict[str | tuple[int, int], Any] = {
        k: image.info[k] for k in KEPT_INFO if k in image.info
    }
    if getattr(image, "n_frames", 1) > 1:
        image.info = dict(kept)
        image.save(out, format=fmt, save_all=True, exif=b"", xmp=b"")
        return
    upright = ImageOps.exif_transpose(image) or image
    upright.info = dict(kept)
    options: dict[str, Any] = {"quality": 95} if fmt in ("JPEG", "WEBP", "HEIF") else {}
    empty = None if fmt == "HEIF" else b""  # pillow-heif takes None for "none at all"
    upright.save(out, format=fmt, exif=empty, xmp=empty, **options)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stored:
        while chunk := stored.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


_NEW_FILES = "qingfeng.new_evidence_files"


def _discard_on_rollback(session: Session, path: Path) -> None:
    """Remove ``path`` unless the session's transaction commits."""
    if _NEW_FILES not in session.info:
        session.info[_NEW_FILES] = []
        event.listen(session, "after_commit", _keep_new_files)
        event.listen(session, "after_soft_rollback", _discard_new_files)
    session.info[_NEW_FILES].append(path)


def _keep_new_files(session: Session) -> None:
    session.info[_NEW_FILES].clear()


def _discard_new_files(session: Session, previous: Any) -> None:
    if previous.parent is None:  # the outermost transaction, not a savepoint
        for path in session.info[_NEW_FILES]:
            path.unlink(missing_ok=True)
        session.info[_NEW_FILES].clear()


def evidence_file(
    *,
    uow: UnitOfWork,
    store: Path,
    reference: str,
    evidence_id: int,
    viewer: Person,
    now: datetime | None = None,
) -> EvidenceFile:
    """The stored file of an item of evidence, for staff who may read the case; audited."""
    now = now or utcnow()
    with uow:
        session = uow.session
        case = case_for(session, viewer, reference).case
        item = session.get(Evidence, evidence_id)
        if viewer.id == case.subject_id or item is None or item.case_id != case.id:
            raise NotFound(f"no evidence {evidence_id} on {reference}", field="evidence_id")
        path = store / str(pk(case)) / (item.stored_name or "")
        if item.stored_name is None or item.media_type is None or not path.is_file():
            raise NotFound(f"evidence {evidence_id} has no stored file", field="evidence_id")
        append_event(
            session,
            chain=case_chain(pk(case)),
            case_id=case.id,
            actor_id=viewer.id,
            action=DOWNLOADED_EVENT,
            at=now,
            data={"evidence": item.id, "sha256": item.sha256},
        )
        uow.commit()
        return EvidenceFile(path, item.media_type, item.filename or f"evidence-{item.id}")


def evidence_store(data_dir: Path) -> Path:
    """Where evidence files are kept: data_dir/evidence/<case id>/<random name>."""
    return data_dir / "evidence"
