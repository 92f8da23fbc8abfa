"""Named proposal sets for stock clients: expansion, weak opt-in, and a client using one."""

from __future__ import annotations

import pytest

from ikesrv import events as ev
from ikesrv.config import load_text
from ikesrv.crypto.proposal_sets import SETS, expand
from ikesrv.errors import ConfigError

from .ikev2_pair import BASE_CONFIG, Pair, make_config

PROPOSALS_LINE = ('proposals = ["aes256gcm16-prfsha384-ecp384", "aes128-sha256-x25519", '
                  '"aes256-sha256-modp2048"]')


def with_proposals(ike: str, esp: str, extra: str = "") -> str:
    return (BASE_CONFIG.replace(PROPOSALS_LINE, f"proposals = {ike}")
            .replace('esp_proposals = ["aes256gcm16", "aes128-sha256"]', f"esp_proposals = {esp}")
            + extra)


def test_expand_keeps_plain_strings_and_names_the_set():
    out = expand(["%apple", "aes256gcm16-prfsha384-ecp384"], "ike")
    assert out[0] == (SETS["apple"].ike[0], "apple")
    assert out[-1] == ("aes256gcm16-prfsha384-ecp384", None)
    with pytest.raises(ValueError, match="unknown proposal set '%palm'.*%apple"):
        expand(["%palm"], "esp")


def test_every_set_parses_and_modern_ones_need_no_opt_in(tmp_path):
    for name in ("apple", "android", "windows-modern"):
        config = make_config(tmp_path, with_proposals(f'["%{name}"]', f'["%{name}"]'))
        (conn,) = config.connections.values()
        assert list(conn.proposal_strings) == list(SETS[name].ike)
        assert not any("WEAK" in msg for _, msg in config.warnings)


def test_windows_defaults_are_refused_without_opt_in_and_loud_with_it(tmp_path):
    (tmp_path / "rw.psk").write_text("x" * 20)
    text = with_proposals('["%windows"]', '["%windows"]')
    with pytest.raises(ConfigError) as caught:
        load_text(text, tmp_path)
    message = str(caught.value)
    assert "(from %windows) uses weak algorithms" in message and "modp1024" in message
    config = load_text(text + 'weak_algorithms = ["modp1024", "sha1"]\n', tmp_path)
    assert any("WEAK" in msg for _, msg in config.warnings)


def test_a_windows_default_client_connects_when_the_operator_opts_in(tmp_path):
    text = with_proposals('["%windows-modern", "%windows"]', '["%windows"]',
                          'weak_algorithms = ["modp1024", "sha1"]\n')
    pair = Pair(make_config(tmp_path, text))
    client = pair.client(ike="aes256-sha1-modp1024", esp="aes256-sha1")
    pair.connect(client)
    assert client.state == "established", client.failure
    (done,) = pair.of(ev.IkeSaEstablished)
    assert done.suite == "aes256-sha1-modp1024"  # the bounded label says which set matched
