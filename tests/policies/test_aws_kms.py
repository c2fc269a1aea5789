"""aws-kms-key-rotation: symmetric customer keys rotate; keys that cannot rotate are left out."""

from __future__ import annotations

from typing import Any

import pytest

from policies.aws_kms import POLICIES
from tests.policies.harness import UNKNOWN, resource, violated

NAME = "aws-kms-key-rotation"


def key(**props: Any) -> Any:
    return resource(
        "aws:kms/key:Key", {"region": "eu-central-1", "enableKeyRotation": True, **props}
    )


def test_rotating_key_passes() -> None:
    assert not violated(POLICIES, [key()])
    assert not violated(POLICIES, [key(customerMasterKeySpec="SYMMETRIC_DEFAULT")])


@pytest.mark.parametrize("value", [False, UNKNOWN])
def test_rotation_off_or_unknown_fires(value: Any) -> None:
    assert NAME in violated(POLICIES, [key(enableKeyRotation=value)])


def test_rotation_missing_fires() -> None:
    assert NAME in violated(POLICIES, [resource("aws:kms/key:Key", {"region": "eu-central-1"})])


@pytest.mark.parametrize(
    "props",
    [
        {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"},
        {"customerMasterKeySpec": "HMAC_256", "keyUsage": "GENERATE_VERIFY_MAC"},
        {"customKeyStoreId": "cks-1234567890abcdef0"},
    ],
)
def test_keys_that_cannot_rotate_automatically_are_not_required_to(props: dict[str, Any]) -> None:
    assert not violated(POLICIES, [key(enableKeyRotation=False, **props)])


def test_unknown_spec_fails_closed() -> None:
    assert NAME in violated(POLICIES, [key(customerMasterKeySpec=UNKNOWN)])
