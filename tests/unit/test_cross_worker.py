"""Uniqueness across workers (DESIGN §4, ikesrv.ikev2.cross_worker): two cores as worker
0 and worker 1 of two, in memory, with the supervisor's relay played by the test. RFC
7296 §2.4 (INITIAL_CONTACT); the policies are the connection's ``unique``."""

from __future__ import annotations

from ikesrv.actions import IdentityClaimed, SendDatagram
from ikesrv.core import Core
from ikesrv.ikev2.ike_sa import IkeSaState
from tests.unit.ikev2_pair import BASE_CONFIG, Pair, make_config

ALICE = "alice@example.test"


def workers(tmp_path, text=BASE_CONFIG):
    config = make_config(tmp_path, text)
    pairs = []
    for index in (0, 1):
        p = Pair(config, seed=10 + index)
        p.core = Core(config, rng=p.rng.randbytes, worker_index=index, worker_count=2)
        pairs.append(p)
    return pairs


def connect(pair, address, *, initial_contact=False, local_id=ALICE):
    client = pair.client(local_id=local_id, address=address, initial_contact=initial_contact)
    pair.connect(client)
    assert client.state == "established", client.failure
    return client


def claims(pair):
    return pair.of(IdentityClaimed)


def relay(claim, to_pair, claimant_index=0):
    """What the supervisor does: hand the claim to the other worker."""
    to_pair.now = max(to_pair.now, claim.claimed_at)
    return to_pair.core.identity_claimed_elsewhere(claim.connection, claim.identity, claim.mode,
                                                   claim.claimed_at, to_pair.now)


def established(pair):
    return [sa for sa in pair.core.v2.sas.values() if sa.state is IkeSaState.ESTABLISHED]


def test_replace_deletes_the_older_sa_on_the_other_worker(tmp_path):
    w0, w1 = workers(tmp_path)
    old = connect(w1, ("198.51.100.10", 500))
    (old_sa,) = established(w1)
    assert old_sa.our_spi[0] == 1  # the worker index is the SPI's top byte
    w0.now = w1.now + 5
    connect(w0, ("198.51.100.11", 500))
    (claim,) = claims(w0)
    assert (claim.connection, claim.identity, claim.mode) == ("rw", f"rfc822:{ALICE}", "replace")
    assert claim.spi == established(w0)[0].our_spi
    before = len(w1.sent_to.get(old.local, []))
    assert relay(claim, w1) is True
    w1._drain(None)
    assert established(w1) == []
    assert old_sa.state is IkeSaState.DEAD
    # a Delete went to the old peer (§1.4.1), protected under the old SA
    assert len(w1.sent_to[old.local]) == before + 1
    assert len(established(w0)) == 1


def test_initial_contact_forgets_without_a_delete(tmp_path):
    w0, w1 = workers(tmp_path)
    old = connect(w1, ("198.51.100.10", 500))
    w0.now = w1.now + 5
    connect(w0, ("198.51.100.11", 500), initial_contact=True)
    (claim,) = claims(w0)
    assert claim.mode == "initial_contact"
    before = len(w1.sent_to[old.local])
    relay(claim, w1)
    w1._drain(None)
    assert established(w1) == []
    assert len(w1.sent_to[old.local]) == before  # the peer no longer knows that SA


def test_keep_refuses_the_new_sa(tmp_path):
    text = BASE_CONFIG.replace('dpd_delay = "30s"', 'dpd_delay = "30s"\nunique = "keep"')
    w0, w1 = workers(tmp_path, text)
    connect(w1, ("198.51.100.10", 500))
    w0.now = w1.now + 5
    new = connect(w0, ("198.51.100.11", 500))
    (claim,) = claims(w0)
    assert claim.mode == "keep"
    assert relay(claim, w1) is True  # "held": the supervisor tells worker 0
    assert len(established(w1)) == 1
    w0.core.claim_refused(claim.spi, w0.now)
    out = w0.core.actions()
    (new_sa,) = [sa for sa in w0.core.v2.sas.values()]
    assert new_sa.state is IkeSaState.DELETING  # a Delete exchange with the new peer
    assert any(isinstance(a, SendDatagram) and a.remote == new.local for a in out)


def test_a_claim_older_than_our_sa_changes_nothing(tmp_path):
    # two set-ups at once: each claim predates the other worker's SA, so one SA survives
    w0, w1 = workers(tmp_path)
    w0.now = w1.now
    connect(w0, ("198.51.100.11", 500))
    (claim,) = claims(w0)
    w1.now = claim.claimed_at + 1
    connect(w1, ("198.51.100.10", 500))
    assert relay(claim, w1) is False
    assert len(established(w1)) == 1
    (claim1,) = claims(w1)
    assert relay(claim1, w0) is True
    w0._drain(None)
    assert established(w0) == []


def test_other_identities_and_never_are_left_alone(tmp_path):
    text = BASE_CONFIG.replace('dpd_delay = "30s"', 'dpd_delay = "30s"\nunique = "never"')
    w0, w1 = workers(tmp_path, text)
    connect(w1, ("198.51.100.10", 500), local_id="bob@example.test")
    w0.now = w1.now + 5
    connect(w0, ("198.51.100.11", 500))
    assert claims(w0) == []  # unique = never and no INITIAL_CONTACT: nothing to tell
    connect(w0, ("198.51.100.12", 500), initial_contact=True, local_id="carol@example.test")
    (claim,) = claims(w0)
    relay(claim, w1)
    assert len(established(w1)) == 1  # bob is not carol


def test_a_single_worker_claims_nothing(tmp_path):
    config = make_config(tmp_path)
    p = Pair(config)
    connect(p, ("198.51.100.10", 500))
    assert claims(p) == []
