"""FastMCP's OpenAPI proxy, as its documentation shows it, for the peer benchmark.

python fastmcp_server.py SPEC BASE_URL stdio
python fastmcp_server.py SPEC BASE_URL http PORT
The upstream key comes from BENCH_KEY.
"""

import json
import os
import sys

import httpx2
from fastmcp import FastMCP

spec_path, base_url, transport = sys.argv[1], sys.argv[2], sys.argv[3]
with open(spec_path) as f:
    spec = json.load(f)
client = httpx2.AsyncClient(base_url=base_url, headers={"X-Api-Key": os.environ.get("BENCH_KEY", "")}, timeout=30)
mcp = FastMCP.from_openapi(openapi_spec=spec, client=client, name="bench")
if transport == "stdio":
    mcp.run(show_banner=False)
else:
    mcp.run(transport="http", host="127.0.0.1", port=int(sys.argv[4]), show_banner=False, log_level="warning")
