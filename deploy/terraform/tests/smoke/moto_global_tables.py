"""moto's server with DynamoDB global-table replicas, for the moto smoke test only.

moto 5.2.5 ignores UpdateTable's ReplicaUpdates and never lists Replicas in DescribeTable, so the provider's
`replica` block waits forever for a replica that never becomes ACTIVE. Started by scripts/check/terraform/smoke.sh
(through start_moto's optional launcher) in place of moto_server, this patches two methods of moto's DynamoDB:

- UpdateTable with ReplicaUpdates: Create makes the table (same keys, billing mode, stream, the replica's own KMS key)
  in the replica region's backend, so that region's DescribeTable, UpdateTable (deletion protection),
  UpdateContinuousBackups and tagging work on it, and records the replica; Delete removes both.
- DescribeTable (and every other table description) lists the recorded replicas, ACTIVE at once, with their KMS key.

What it does not emulate: items are not replicated between the regions' tables, a replica is ACTIVE at once (no
CREATING phase), and there is no ReplicationLatency metric. deploy/terraform/README.md, "Emulator exclusions".

    python moto_global_tables.py [moto_server's arguments]
"""

import sys
from typing import Any

from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.server import main

# The table in its own region -> {replica region: the replica's KMS key, or None for the default key}
REPLICAS: dict[str, dict[str, str | None]] = {}


def key(table: Table) -> str:
    return table.table_arn


def create_replica(backend: DynamoDBBackend, table: Table, create: dict[str, Any]) -> None:
    region = create["RegionName"]
    replicas = REPLICAS.setdefault(key(table), {})
    if region == backend.region_name or region in replicas:
        raise MockValidationException(f"{table.name} already has a replica in {region}")
    kms_key = create.get("KMSMasterKeyId")
    dynamodb_backends[backend.account_id][region].create_table(
        table.name,
        schema=table.schema,
        throughput=None,
        attr=table.attr,
        global_indexes=None,
        indexes=None,
        streams=table.stream_specification,
        billing_mode=table.billing_mode,
        sse_specification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": kms_key} if kms_key else None,
        tags=[],
        deletion_protection_enabled=False,
        warm_throughput=None,
    )
    replicas[region] = kms_key


def delete_replica(backend: DynamoDBBackend, table: Table, delete: dict[str, Any]) -> None:
    region = delete["RegionName"]
    replicas = REPLICAS.get(key(table), {})
    if region not in replicas:
        raise MockValidationException(f"{table.name} has no replica in {region}")
    # DeleteTable honours the replica's own deletion protection, as AWS does.
    dynamodb_backends[backend.account_id][region].delete_table(table.name)
    del replicas[region]


update_table = DynamoHandler.update_table


def update_table_with_replicas(self: DynamoHandler) -> ActionResult:
    table = self.dynamodb_backend.get_table(self.body["TableName"])
    for update in self.body.get("ReplicaUpdates") or []:
        if "Create" in update:
            create_replica(self.dynamodb_backend, table, update["Create"])
        elif "Delete" in update:
            delete_replica(self.dynamodb_backend, table, update["Delete"])
    return update_table(self)


describe = Table.describe


def describe_with_replicas(self: Table, base_key: str = "TableDescription") -> dict[str, Any]:
    result = describe(self, base_key)
    replicas = REPLICAS.get(key(self))
    if replicas:
        # As AWS describes a global table (version 2019.11.21): every replica but the table's own region.
        result[base_key]["GlobalTableVersion"] = "2019.11.21"
        result[base_key]["Replicas"] = [
            {"RegionName": region, "ReplicaStatus": "ACTIVE"} | ({"KMSMasterKeyId": kms} if kms else {})
            for region, kms in replicas.items()
        ]
    return result


DynamoHandler.update_table = update_table_with_replicas  # type: ignore[method-assign]
Table.describe = describe_with_replicas  # type: ignore[method-assign]

if __name__ == "__main__":
    main(sys.argv[1:])
