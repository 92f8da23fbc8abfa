"""The IKEv1 responder (RFC 2407, 2408, 2409; XAuth, Mode Config, NAT-T RFC 3947, DPD RFC 3706).

Modules: ``isakmp_sa`` (the state of one ISAKMP SA), ``transitions`` (the table of what
each exchange may carry in each state), ``messages`` (encryption, HASH payloads,
fragments), ``phase1`` with ``main_mode`` and ``aggressive_mode``, ``xauth``,
``mode_config``, ``quick_mode``, ``informational`` (notifies, deletes, DPD) and
``responder`` (the driver the core calls). Sans-I/O like the rest of the core.
"""
