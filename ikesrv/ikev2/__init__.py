"""The IKEv2 responder core (RFC 7296): exchanges as small tasks over IkeSa state."""
