"""A Powertools for AWS Lambda (Python) function that shares helve's idempotency table.

Run by tests/idempotency_dynamodb.rs with: ENDPOINT TABLE KEY_PREFIX ORDER_JSON. It creates the
order idempotently, keyed by the whole order (as helve's `once` is keyed by the value it is
given), and prints {"result": <the response>, "ran": <whether the function body ran>}.
"""

import json
import sys

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

endpoint, table, prefix, order_json = sys.argv[1:5]
client = boto3.client(
    "dynamodb",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
)
store = DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
ran = []


@idempotent_function(
    data_keyword_argument="order",
    persistence_store=store,
    config=IdempotencyConfig(expires_after_seconds=3600),
    key_prefix=prefix,
)
def create_order(order):
    ran.append(True)
    return {"order_id": order["order_id"], "created_by": "python", "total": 12.5}


result = create_order(order=json.loads(order_json))
print(json.dumps({"result": result, "ran": bool(ran)}))
