"""The case file's archive (案卷压缩包): its members, a manifest of their SHA-256 signed with
the committee's Ed25519 key, and the offline check of all of it.

Nothing here touches the database: ``qingfeng casefile verify`` runs on any machine that has
the archive. A changed byte in any member is found: the evidence, the PDF and the audit
segment by their hashes in the manifest, the manifest by its signature, the signature by the
key's fingerprint (compared with the one ``qingfeng casefile key`` prints), and the audit
segment's own hash chain is recomputed with the same hashing as the live trail.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cases.audit import GENESIS, event_hash
from cases.procedure.clock import SHANGHAI, to_utc
from cases.store.models import AuditEvent

FORMAT = "qingfeng-casefile/1"
PDF_MEMBER = "casefile.pdf"
AUDIT_MEMBER = "audit.jsonl"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
EVIDENCE_DIR = "evidence/"
KEY_FILE = "casefile_key"
EVENT_FIELDS = ("chain", "seq", "case_id", "at", "actor_id", "action", "data", "prev_hash", "hash")


def signing_key(data_dir: Path) -> Ed25519PrivateKey:
    """The committee's case-file key in data_dir (owner-only), generated on first use."""
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:  # O_EXCL: of two first exports at once, one writes the key, both use it
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def fingerprint(public: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex in groups of four (for people to compare)."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha256(raw).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, 64, 4))


def _plain(fingerprint_text: str) -> str:
    return re.sub(r"[^0-9a-f]", "", fingerprint_text.lower())


def audit_segment(events: Sequence[AuditEvent]) -> bytes:
    """The chain's events as stored, one JSON object a line, in order."""
    lines = []
    for event in events:
        row = event.model_dump()
        row["at"] = row["at"].isoformat()  # as hashed: UTC, isoformat
        lines.append(json.dumps({k: row[k] for k in EVENT_FIELDS}, ensure_ascii=False))
    return "".join(f"{line}\n" for line in lines).encode("utf-8")


@dataclass(frozen=True)
class Header:
    """What the manifest says beside the members."""

    reference: str
    chain: str
    head_seq: int
    head_hash: str
    exported_at: datetime
    exported_by: str


def build_archive(
    members: Sequence[tuple[str, bytes]], header: Header, key: Ed25519PrivateKey
) -> bytes:
    """The zip: the members, then manifest.json (their SHA-256 and sizes) and manifest.sig."""
    manifest = {
        "format": FORMAT,
        "reference": header.reference,
        "exported_at": to_utc(header.exported_at).isoformat(),
        "exported_by": header.exported_by,
        "chain": {"name": header.chain, "head_seq": header.head_seq, "head": header.head_hash},
        "members": [
            {"name": name, "sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
            for name, content in members
        ],
    }
    body = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    raw_public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    signature = {
        "algorithm": "Ed25519",
        "public_key": base64.b64encode(raw_public).decode(),
        "signature": base64.b64encode(key.sign(body)).decode(),
    }
    sig = json.dumps(signature, indent=2).encode("utf-8") + b"\n"
    stamp = to_utc(header.exported_at).astimezone(SHANGHAI).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in [*members, (MANIFEST, body), (SIGNATURE, sig)]:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            archive.writestr(info, content)
    return out.getvalue()


@dataclass
class Check:
    """What ``verify_archive`` found: each problem names its member and what is wrong."""

    problems: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    reference: str | None = None
    members: int = 0
    events: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_archive(data: bytes, *, expected_fingerprint: str | None = None) -> Check:
    """Check a case-file archive offline: signature, every member, the audit chain."""
    check = Check()
    contents = _read_members(data, check)
    if contents is None:
        return check
    manifest = _signed_manifest(contents, check)
    expected = _plain(expected_fingerprint) if expected_fingerprint is not None else None
    if expected is not None and check.fingerprint and _plain(check.fingerprint) != expected:
        check.problems.append(
            f"{SIGNATURE}: signed with key {check.fingerprint}, not the expected "
            f"{expected_fingerprint}"
        )
    if manifest is None:
        return check
    check.reference = str(manifest.get("reference"))
    _check_members(manifest, contents, check)
    if AUDIT_MEMBER in contents:
        _check_chain(contents[AUDIT_MEMBER], manifest, check)
    return check


def _read_members(data: bytes, check: Check) -> dict[str, bytes] | None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        check.problems.append(f"the file is not a zip archive ({exc})")
        return None
    contents: dict[str, bytes] = {}
    with archive:
        names = archive.namelist()
        for name, times in sorted(Counter(names).items()):
            if times > 1:
                check.problems.append(f"{name}: appears {times} times in the archive")
        for name in dict.fromkeys(names):
            try:
                contents[name] = archive.read(name)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
                check.problems.append(f"{name}: cannot be read from the archive ({exc})")
    return contents


def _signed_manifest(contents: dict[str, bytes], check: Check) -> dict[str, Any] | None:
    """The manifest if its signature holds (the key's fingerprint noted), else None."""
    body, sig = contents.get(MANIFEST), contents.get(SIGNATURE)
    for name, found in ((MANIFEST, body), (SIGNATURE, sig)):
        if found is None:
            check.problems.append(f"{name}: missing from the archive")
    if body is None or sig is None:
        return None
    try:
        signature = json.loads(sig)
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(signature["public_key"]))
        check.fingerprint = fingerprint(public)
        public.verify(base64.b64decode(signature["signature"]), body)
    except InvalidSignature:
        check.problems.append(f"{MANIFEST}: does not match its signature (changed)")
        return None
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        check.problems.append(f"{SIGNATURE}: not a readable Ed25519 signature ({exc})")
        return None
    try:
        manifest = json.loads(body)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        check.problems.append(f"{MANIFEST}: signed, but not a {FORMAT} manifest")
        return None
    return manifest


def _check_members(manifest: dict[str, Any], contents: dict[str, bytes], check: Check) -> None:
    listed = {m["name"]: m for m in manifest.get("members", [])}
    check.members = len(listed)
    for required in (PDF_MEMBER, AUDIT_MEMBER):
        if required not in listed:
            check.problems.append(f"{required}: not listed in the manifest")
    for name, entry in listed.items():
        content = contents.get(name)
        if content is None:
            check.problems.append(f"{name}: missing from the archive")
            continue
        digest = hashlib.sha256(content).hexdigest()
        if len(content) != entry["size"]:
            check.problems.append(
                f"{name}: {len(content)} bytes, the manifest says {entry['size']} (changed)"
            )
        if digest != entry["sha256"]:
            check.problems.append(
                f"{name}: SHA-256 is {digest}, the manifest says {entry['sha256']} (changed)"
            )
    for name in sorted(set(contents) - set(listed) - {MANIFEST, SIGNATURE}):
        check.problems.append(f"{name}: in the archive but not in the manifest (added)")


def _check_chain(segment: bytes, manifest: dict[str, Any], check: Check) -> None:
    """Recompute the segment's hash chain from the genesis hash to the manifest's head."""
    chain = manifest["chain"]
    prev_hash, seq = GENESIS, 0
    for number, line in enumerate(segment.decode("utf-8", "replace").splitlines(), start=1):
        where = f"{AUDIT_MEMBER} line {number}"
        try:
            row = json.loads(line)
            row["at"] = datetime.fromisoformat(row["at"])
            recomputed = event_hash(row)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            check.problems.append(f"{where}: not an audit event ({exc})")
            return
        if row["chain"] != chain["name"] or row["seq"] != seq + 1:
            check.problems.append(
                f"{where}: is {row['chain']} seq {row['seq']}, expected {chain['name']} "
                f"seq {seq + 1} (an event is missing or out of order)"
            )
        if row["prev_hash"] != prev_hash:
            check.problems.append(f"{where}: does not follow the event before it")
        if recomputed != row["hash"]:
            check.problems.append(f"{where}: content does not match its hash (edited)")
        prev_hash, seq = row["hash"], row["seq"]
        check.events += 1
    if (seq, prev_hash) != (chain["head_seq"], chain["head"]):
        check.problems.append(
            f"{AUDIT_MEMBER}: ends at seq {seq} ({prev_hash[:12]}…), the manifest's chain "
            f"head is seq {chain['head_seq']} ({str(chain['head'])[:12]}…)"
        )
