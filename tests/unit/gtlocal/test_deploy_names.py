"""Resource names of the SDK deployment follow the Terraform module (and the CloudFormation stack)."""

from __future__ import annotations

from gtlocal.deploy import BUCKET_KINDS, bucket_name, resource_base

ACCOUNT = "123456789012"
LONGEST = "A-very-long-project-prefix-that-is-still-valid-for-jobs1"  # 56 characters, the contract's max


def test_short_prefix_names_are_the_prefix_itself() -> None:
    assert resource_base("Cats") == "Cats"
    assert [bucket_name("Cats", kind, ACCOUNT) for kind in BUCKET_KINDS] == [
        f"cats-{ACCOUNT}-{kind}" for kind in BUCKET_KINDS
    ]


def test_longest_prefix_names_fit_the_service_limits_and_stay_distinct() -> None:
    assert len(LONGEST) == 56
    base = resource_base(LONGEST)
    assert len(f"{base}-worker-events-lambda") <= 64  # IAM role names
    assert base.startswith(LONGEST[:27]) and base != resource_base(LONGEST[:-1] + "2")
    for kind in BUCKET_KINDS:
        name = bucket_name(LONGEST, kind, ACCOUNT)
        assert len(name) <= 63 and name == name.lower() and name.endswith(f"-{ACCOUNT}-{kind}")
        assert name != bucket_name(LONGEST[:-1] + "2", kind, ACCOUNT)
    # 36 characters is still used as it is (Terraform: length <= 36), bucket bases up to 37.
    assert resource_base("p" * 36) == "p" * 36 and resource_base("p" * 37) != "p" * 37
    assert bucket_name("p" * 37, "drop", ACCOUNT) == f"{'p' * 37}-{ACCOUNT}-drop"
