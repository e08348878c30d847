"""What measuring takes besides the clients: starting and pinning the server under test,
/proc readings, the machine's description, nginx, redis-server, network namespaces, relay
chains and multi-worker capacity servers."""
