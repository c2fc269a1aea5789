"""A directory sink (``file:///path``): the embedded default.

Objects are written to a temporary file, fsynced, then hard-linked into place, so a name is
either absent or complete and an existing name is never replaced. Archived files are made
read-only (0444); real immutability on a local disk needs the filesystem's help
(``chattr +i``, a WORM mount), so prefer S3 or Azure for compliance retention.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path


class LocalSink:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def url(self) -> str:
        return self.root.absolute().as_uri()

    def get(self, name: str) -> bytes | None:
        try:
            return (self.root / name).read_bytes()
        except FileNotFoundError:
            return None

    def put_new(self, name: str, data: bytes, retain_until: datetime) -> bool:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        with temp.open("xb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        temp.chmod(0o444)
        try:
            os.link(temp, target)
        except FileExistsError:
            return False
        finally:
            temp.unlink()
        directory = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return True

    def protect(self, name: str, retain_until: datetime) -> None:
        return None

    def list(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            path.relative_to(self.root).as_posix()
            for path in self.root.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        )
