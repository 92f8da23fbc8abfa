"""ikesrv's own test harness: real IKE peers and services in network namespaces.

Python fixtures that build a client / gateway / NAT topology and start strongSwan's
charon, libreswan's pluto, ike-scan, tshark/dumpcap, slapd and Prometheus inside it, each
with its own configuration and directories, stopped by PID and removed at teardown.
``tests/conftest.py`` turns them into pytest fixtures; ``tests/harness/apt-ensure.sh``
installs the Debian packages they need (``make lab``).
"""
