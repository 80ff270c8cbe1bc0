"""Writing to a folder inventory: the pending key and the installation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from certrenew.config import Settings
from certrenew.errors import InventoryError
from certrenew.inventory.entry import Problem
from certrenew.inventory.files import FileSource
from tests.inventory.conftest import Issue, key_pem, write_pair

NAME = "shop/www.example.com"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def hidden_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def live(tmp_path: Path, issue: Issue, ec_key: ec.EllipticCurvePrivateKey) -> Path:
    write_pair(tmp_path, NAME, issue(ec_key), ec_key)
    return tmp_path


def test_the_pending_key_is_stored_beside_the_live_one_readable_by_owner_only(
    live: Path, other_ec_key: ec.EllipticCurvePrivateKey
) -> None:
    source = FileSource(live, Settings())

    location = source.store_pending_key(NAME, key_pem(other_ec_key))

    pending = live / "shop" / "www.example.com.key.pending"
    assert location == str(pending)
    assert pending.read_bytes() == key_pem(other_ec_key)
    assert mode_of(pending) == 0o600
    assert hidden_files(live / "shop") == []
    assert source.load_pending_key(NAME) == key_pem(other_ec_key)


def test_there_is_no_pending_key_until_one_is_stored(live: Path) -> None:
    assert FileSource(live, Settings()).load_pending_key(NAME) is None


def test_a_pending_key_does_not_disturb_the_scan(
    live: Path, other_ec_key: ec.EllipticCurvePrivateKey
) -> None:
    source = FileSource(live, Settings())
    source.store_pending_key(NAME, key_pem(other_ec_key))

    items = list(source.scan())

    assert [item.name for item in items if not isinstance(item, Problem)] == [NAME]
    assert [item for item in items if isinstance(item, Problem)] == []


def test_install_replaces_the_pair_keeps_the_previous_one_and_drops_the_pending_key(
    live: Path,
    issue: Issue,
    ec_key: ec.EllipticCurvePrivateKey,
    other_ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    folder = live / "shop"
    old_certificate = (folder / "www.example.com.crt").read_bytes()
    source = FileSource(live, Settings())
    source.store_pending_key(NAME, key_pem(other_ec_key))
    new_chain = issue(other_ec_key, days_left=398)

    installed = source.install(NAME, new_chain, key_pem(other_ec_key))

    assert (folder / "www.example.com.crt").read_bytes() == new_chain
    assert (folder / "www.example.com.key").read_bytes() == key_pem(other_ec_key)
    assert mode_of(folder / "www.example.com.crt") == 0o644
    assert mode_of(folder / "www.example.com.key") == 0o600
    assert (folder / "www.example.com.crt.previous").read_bytes() == old_certificate
    assert (folder / "www.example.com.key.previous").read_bytes() == key_pem(ec_key)
    assert mode_of(folder / "www.example.com.key.previous") == 0o600
    assert not (folder / "www.example.com.key.pending").exists()
    assert hidden_files(folder) == []
    assert installed.certificate_location == str(folder / "www.example.com.crt")
    assert installed.previous_key_location == str(
        folder / "www.example.com.key.previous"
    )
    # The new pair reads back as a whole: load() checks the key against it.
    new_leaf = x509.load_pem_x509_certificates(new_chain)[0]
    new_thumbprint = new_leaf.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - the thumbprint is SHA-1 by definition
    assert source.load(NAME).facts.thumbprint == new_thumbprint


def test_install_normalises_crlf_line_ends_in_the_chain(
    live: Path, issue: Issue, other_ec_key: ec.EllipticCurvePrivateKey
) -> None:
    chain = issue(other_ec_key)

    FileSource(live, Settings()).install(
        NAME, chain.replace(b"\n", b"\r\n"), key_pem(other_ec_key)
    )

    assert (live / "shop" / "www.example.com.crt").read_bytes() == chain


def test_install_refuses_a_certificate_that_is_not_for_the_new_key_and_changes_nothing(
    live: Path,
    issue: Issue,
    ec_key: ec.EllipticCurvePrivateKey,
    other_ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    folder = live / "shop"
    before = sorted((p.name, p.read_bytes()) for p in folder.iterdir())
    source = FileSource(live, Settings())

    with pytest.raises(InventoryError, match="does not match the new key; nothing"):
        source.install(NAME, issue(ec_key), key_pem(other_ec_key))

    assert sorted((p.name, p.read_bytes()) for p in folder.iterdir()) == before


def test_install_keeps_as_many_previous_pairs_as_configured(
    live: Path, issue: Issue, other_ec_key: ec.EllipticCurvePrivateKey
) -> None:
    folder = live / "shop"
    source = FileSource(
        live, Settings.model_validate({"install": {"keep_previous": 2}})
    )
    chains = [issue(other_ec_key, days_left=300 + n) for n in range(3)]
    first = (folder / "www.example.com.crt").read_bytes()

    for chain in chains:
        source.install(NAME, chain, key_pem(other_ec_key))

    assert (folder / "www.example.com.crt").read_bytes() == chains[2]
    assert (folder / "www.example.com.crt.previous").read_bytes() == chains[1]
    assert (folder / "www.example.com.crt.previous.2").read_bytes() == chains[0]
    assert first not in [p.read_bytes() for p in folder.iterdir()]
    assert not (folder / "www.example.com.crt.previous.3").exists()


def test_install_keeps_no_previous_pair_when_told_not_to(
    live: Path, issue: Issue, other_ec_key: ec.EllipticCurvePrivateKey
) -> None:
    source = FileSource(
        live, Settings.model_validate({"install": {"keep_previous": 0}})
    )

    installed = source.install(NAME, issue(other_ec_key), key_pem(other_ec_key))

    assert installed.previous_certificate_location is None
    assert installed.previous_key_location is None
    assert sorted(p.name for p in (live / "shop").iterdir()) == [
        "www.example.com.crt",
        "www.example.com.key",
    ]


def test_install_into_an_unknown_entry_is_refused(
    live: Path, issue: Issue, other_ec_key: ec.EllipticCurvePrivateKey
) -> None:
    with pytest.raises(InventoryError, match="no certificate named 'shop/nothing'"):
        FileSource(live, Settings()).install(
            "shop/nothing", issue(other_ec_key), key_pem(other_ec_key)
        )
