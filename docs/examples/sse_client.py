"""SSE client: prints each event's data; on a dropped connection it comes back with
Last-Event-ID and the server resumes after it. Usage: python sse_client.py URL"""

import sys
import time

import requests

url, last_id = sys.argv[1], None
while True:
    headers = {"Accept": "text/event-stream", "Last-Event-ID": last_id}  # None: not sent
    try:
        with requests.get(url, headers=headers, stream=True, timeout=(5, 60)) as response:
            if response.status_code == 204:
                break  # the server has nothing more for us
            response.raise_for_status()
            data = []
            for line in response.iter_lines():  # bytes: split on CR, LF, CRLF only
                field, _, value = line.decode().partition(":")
                value = value.removeprefix(" ")
                if not line and data:
                    print("\n".join(data), flush=True)
                    data = []
                elif field == "id":
                    last_id = value
                elif field == "data":
                    data.append(value)
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
        print(f"reconnecting after {error.__class__.__name__}", file=sys.stderr)
    time.sleep(1)
