"""Decodes the tracer's OTLP datagrams with OpenTelemetry's own protobuf messages.

Reads one datagram body per line on stdin (`T1S` then the base64 of an
`ExportTraceServiceRequest`, the daemon's header already removed) and prints each request as
JSON (protobuf's JSON mapping: ids in base64, 64-bit integers as strings), one per line.

Needs `python3 -m pip install opentelemetry-proto`.
"""

import base64
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2


def main() -> None:
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        if not line.startswith("T1S"):
            sys.exit(f"a datagram without the T1S prefix: {line[:40]}")
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(base64.b64decode(line[3:], validate=True))
        print(json_format.MessageToJson(request, indent=None))


if __name__ == "__main__":
    main()
