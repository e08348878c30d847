"""Long-polling client: asks for what is newer than the last id it has, again and again.
Usage: python poll_client.py URL"""

import sys
import time

import requests

url, after = sys.argv[1], -1
while True:
    try:
        response = requests.get(url, params={"after": after}, timeout=(5, 30))  # > WAIT_S
        response.raise_for_status()
    except requests.RequestException as error:
        print(f"retrying after {error.__class__.__name__}", file=sys.stderr)
        time.sleep(2)
        continue
    for message in response.json():
        print(message["id"], message["data"], flush=True)
        after = message["id"]
