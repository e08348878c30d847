"""Download client: streams the body to a file in 64 KiB pieces and checks it is all there.
Usage: python download_client.py URL FILE"""

import sys

import requests

url, path = sys.argv[1], sys.argv[2]
with requests.get(url, stream=True, timeout=(5, 60)) as response, open(path, "wb") as out:
    response.raise_for_status()
    expected, written = int(response.headers["Content-Length"]), 0
    for piece in response.iter_content(chunk_size=64 * 1024):
        written += out.write(piece)
if written != expected:
    sys.exit(f"truncated: {written} of {expected} bytes")
print(f"{path}: {written} bytes")
