"""The moto fixture is a working AWS endpoint for boto3, and reset() really empties it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from support.moto_server import MotoServer


def test_s3_bucket_round_trip(aws: MotoServer) -> None:
    s3 = aws.client("s3")
    bucket = f"nl2api-harness-{uuid.uuid4().hex[:8]}"

    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="backups/db.dump", Body=b"payload")

    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [bucket]
    assert s3.get_object(Bucket=bucket, Key="backups/db.dump")["Body"].read() == b"payload"


def test_ec2_vpc_round_trip(aws: MotoServer) -> None:
    ec2 = aws.client("ec2")

    vpc_id = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]

    (vpc,) = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    assert vpc["CidrBlock"] == "10.42.0.0/16"
    assert ec2.meta.region_name == aws.region == "us-east-1"


def test_reset_drops_everything(moto_server: MotoServer) -> None:
    s3 = moto_server.client("s3")
    ec2 = moto_server.client("ec2")
    s3.create_bucket(Bucket=f"nl2api-harness-{uuid.uuid4().hex[:8]}")
    vpc_id = ec2.create_vpc(CidrBlock="10.43.0.0/16")["Vpc"]["VpcId"]

    moto_server.reset()

    assert s3.list_buckets()["Buckets"] == []
    remaining = {vpc["VpcId"] for vpc in ec2.describe_vpcs()["Vpcs"]}
    assert vpc_id not in remaining


def test_environment_points_a_subprocess_at_moto(aws: MotoServer) -> None:
    """Ansible modules run in their own processes; AWS_ENDPOINT_URL and friends must be enough for them."""
    bucket = f"nl2api-harness-{uuid.uuid4().hex[:8]}"
    aws.client("s3").create_bucket(Bucket=bucket)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(aws.environment())
    script = "import boto3; print(' '.join(b['Name'] for b in boto3.client('s3').list_buckets()['Buckets']))"

    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [bucket]
