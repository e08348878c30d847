"""NDJSON client: one JSON object per line, printed as it arrives.
Usage: python ndjson_client.py URL"""

import json
import sys

import requests

with requests.get(sys.argv[1], stream=True, timeout=(5, 60)) as response:
    response.raise_for_status()
    for line in response.iter_lines():  # bytes: a UTF-8 character is never cut in two
        if line:
            message = json.loads(line)
            print(message["id"], message["data"], flush=True)
