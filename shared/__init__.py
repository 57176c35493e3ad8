"""Code that the host launcher and the guest agent share (stdlib only)."""
