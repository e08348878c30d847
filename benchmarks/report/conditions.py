"""How the benchmarks measure, where a report quotes it and older result files do not record
it. Pure data: measurement modules import it, and so do the reports."""

from __future__ import annotations

RAMP_CLIENTS_PER_S = 500.0  # new requests per second while the clients connect
NEW_STREAMS_CONNECTING = 20  # short streams opened at once by the relay's new-stream runs
