"""The benchmarks' load generators and clients: stream readers that count wire bytes and time
each message, chat-answer and EventSource-like clients, the hub's subscribers."""
