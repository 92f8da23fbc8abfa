"""Kernel backends that carry CHILD SAs: XFRM (Linux) or none (another component does)."""
