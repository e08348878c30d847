"""Chunked text client: prints the text as it arrives; a read is not a message, so keep your
own delimiter (here a newline). Usage: python chunked_client.py URL"""

import sys

import requests

with requests.get(sys.argv[1], stream=True, timeout=(5, 60)) as response:
    response.raise_for_status()
    for text in response.iter_content(chunk_size=None, decode_unicode=True):
        print(text, end="", flush=True)
