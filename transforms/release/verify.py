"""Is a release folder what its manifest says? Asked before a run calls a release complete or names it.

The manifest lists every file of the release with its size and sha256, and the
cheap identity the store gave it when it was written (`stored`: size, and the
generation and CRC32C on GCS, the modification time locally). One listing of
the folder is compared with those identities; only a file whose identity changed
is read and hashed. So an untouched release costs one listing, a copied one is
hashed once (its manifest then names the new identities), and a damaged one is
found file by file:

  INTACT      every file is the one the manifest names
  DAMAGED     some files are missing or hold other bytes (`damaged` says which and how);
              the release step rewrites them to the bytes the manifest names, or refuses
  UNREADABLE  the manifest itself is not a manifest of this release (not JSON, another
              format or id): the release is built again from scratch
  ABSENT      no manifest: no release (or what a killed run left, removed before a build)

Releases written before manifests kept identities have none: each of their files
is hashed once, then their manifest gains them.
"""
from __future__ import annotations

import hashlib
import json
import logging
from typing import Dict, NamedTuple, Optional

from transforms.common import storage
from transforms.release import layout, manifest

LOG = logging.getLogger("ghsl")
INTACT, DAMAGED, UNREADABLE, ABSENT = "intact", "damaged", "unreadable", "absent"


class Check(NamedTuple):
    state: str
    manifest: Optional[dict] = None          # the parsed manifest, when it is one
    damaged: Dict[str, str] = {}             # file (relative to the release folder) → what is wrong with it
    relisted: Dict[str, dict] = {}           # file → its identity now, for files of the same bytes whose
                                             # identity changed (the manifest is updated to name it)
    problem: str = ""                        # UNREADABLE: why

    def describe(self, folder: str) -> str:
        if self.state == UNREADABLE:
            return f"{storage.join(folder, layout.MANIFEST)} {self.problem}"
        return "; ".join(f"{storage.join(folder, name)} {what}" for name, what in sorted(self.damaged.items()))


def read_manifest(output_dir: str, release_id: str) -> Check:
    """ABSENT, UNREADABLE, or (state still to be decided) the parsed manifest."""
    data = storage.read_if_present(layout.manifest_path(output_dir, release_id))
    if data is None:
        return Check(ABSENT)
    try:
        found = json.loads(data)
    except ValueError as exc:
        return Check(UNREADABLE, problem=f"is not JSON ({exc})")
    if not isinstance(found, dict) or found.get("format") != manifest.FORMAT:
        return Check(UNREADABLE, problem=f"is not a release manifest of format {manifest.FORMAT}")
    if found.get("release_id") != release_id or not isinstance(found.get("files"), dict) or not all(
            isinstance(e, dict) and isinstance(e.get("sha256"), str) and isinstance(e.get("size"), int)
            for e in found["files"].values()):
        return Check(UNREADABLE, problem="does not describe this release (its id or file list is wrong)")
    return Check(INTACT, found)


def check_release(output_dir: str, release_id: str, known: Optional[dict] = None) -> Check:
    """known: the release's manifest when the caller has just read it (the previous release, history.py)."""
    found = Check(INTACT, known) if known is not None else read_manifest(output_dir, release_id)
    if found.state != INTACT:
        return found
    folder = layout.release_dir(output_dir, release_id)
    listing = storage.list_objects(folder)
    damaged, relisted = {}, {}
    for name, entry in found.manifest["files"].items():
        info = listing.get(name)
        if info is None:
            damaged[name] = "is missing"
        elif info.size != entry["size"]:
            damaged[name] = f"is {info.size} bytes, its manifest says {entry['size']}"
        elif not storage.same_identity(info, entry.get("stored")):
            if _sha256(storage.join(folder, name)) != entry["sha256"]:
                damaged[name] = "holds other bytes than its manifest names (sha256 differs)"
            else:
                relisted[name] = storage.identity(info)
    return Check(DAMAGED if damaged else INTACT, found.manifest, damaged, relisted)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with storage.local_copy(path) as local, open(local, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def with_identities(found: dict, identities: Dict[str, dict]) -> str:
    """The manifest's text with these files' stored identities (their bytes are those it names)."""
    files = {name: dict(entry, **({"stored": identities[name]} if name in identities else {}))
             for name, entry in found["files"].items()}
    return json.dumps({**found, "files": dict(sorted(files.items()))}, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def relist(output_dir: str, release_id: str, check: Check) -> None:
    """A release found INTACT whose files' identities changed (a copied folder): its manifest names them
    now, so the next run trusts the listing again instead of hashing."""
    if check.relisted:
        storage.write_text(layout.manifest_path(output_dir, release_id), with_identities(check.manifest,
                                                                                          check.relisted))
        LOG.info("Release %s: %d file(s) listed with new identities hold the bytes its manifest names; the "
                 "manifest now names them.", release_id, len(check.relisted))
