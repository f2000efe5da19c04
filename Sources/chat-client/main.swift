print("chat-client: not yet")
