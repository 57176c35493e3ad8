"""The crossbox guest agent: the container's entrypoint (stdlib and crossbox.shared only)."""
