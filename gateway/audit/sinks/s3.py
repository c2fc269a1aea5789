"""An S3 sink (``s3://bucket/prefix``) with Object Lock in COMPLIANCE mode.

Every object is created with one ``PutObject`` that carries ``ObjectLockMode=COMPLIANCE``,
``ObjectLockRetainUntilDate``, a ``Content-MD5`` of the body and ``If-None-Match: *`` (so an
existing name is never overwritten). The bucket must have Object Lock enabled; S3 rejects the
call otherwise, which the shipper reports. ``protect`` reads the object's lock back and, for an
object found already present, places the COMPLIANCE retention if it is missing.

Sources: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html (Object Lock
needs Content-MD5 or an SDK checksum on PUT), https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html (If-None-Match),
https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectRetention.html
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_TAKEN = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Sink:
    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def get(self, name: str) -> bytes | None:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self._key(name))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise
        body: bytes = response["Body"].read()
        return body

    def put_new(self, name: str, data: bytes, retain_until: datetime) -> bool:
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=self._key(name),
                Body=data,
                ContentMD5=md5,
                ContentType="application/x-ndjson",
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=retain_until,
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if _code(exc) in _TAKEN:
                return False
            raise
        return True

    def protect(self, name: str, retain_until: datetime) -> None:
        head = self._client.head_object(Bucket=self.bucket, Key=self._key(name))
        if head.get("ObjectLockMode") == "COMPLIANCE" and head.get("ObjectLockRetainUntilDate"):
            return
        self._client.put_object_retention(
            Bucket=self.bucket,
            Key=self._key(name),
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": retain_until},
        )

    def list(self) -> list[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        start = f"{self.prefix}/" if self.prefix else ""
        names: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
            names.extend(item["Key"][len(start) :] for item in page.get("Contents", []))
        return sorted(names)
