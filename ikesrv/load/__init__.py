"""The load generator: simulated IKE clients by the thousand (DESIGN §7)."""
