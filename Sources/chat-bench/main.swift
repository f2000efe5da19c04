print("chat-bench: not yet")
