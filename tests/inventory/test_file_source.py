"""Reading a folder of PEM files: entries, chain files, sidecars, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certrenew.config import Settings
from certrenew.errors import InventoryError
from certrenew.inventory.entry import Entry, Problem
from certrenew.inventory.files import FileSource
from certrenew.samples import LocalCA
from tests.inventory.conftest import Issue, key_pem, write, write_pair


def scan(
    root: Path, settings: Settings | None = None
) -> tuple[dict[str, Entry], list[Problem]]:
    entries: dict[str, Entry] = {}
    problems: list[Problem] = []
    for item in FileSource(root, settings or Settings()).scan():
        if isinstance(item, Problem):
            problems.append(item)
        else:
            entries[item.name] = item
    return entries, problems


@pytest.fixture
def good_inventory(
    tmp_path: Path, issue: Issue, ec_key: ec.EllipticCurvePrivateKey
) -> Path:
    """A folder with one good pair, to show that bad files never stop a scan."""
    write_pair(
        tmp_path, "good/www.example.net", issue(ec_key, "www.example.net"), ec_key
    )
    return tmp_path


def test_a_certificate_with_its_key_is_an_entry_named_by_its_relative_path(
    good_inventory: Path, issue: Issue, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    write_pair(good_inventory, "shop/www.example.com", issue(ec_key), ec_key, ".pem")

    entries, problems = scan(good_inventory)

    assert problems == []
    assert sorted(entries) == ["good/www.example.net", "shop/www.example.com"]
    entry = entries["shop/www.example.com"]
    assert entry.location == str(good_inventory / "shop/www.example.com.pem")
    assert entry.key_location == str(good_inventory / "shop/www.example.com.key")
    assert entry.source == f"files:{good_inventory}"
    assert entry.facts.common_name == "www.example.com"
    assert entry.order.product == "ssl_ev_securesite_flex"


def test_chain_files_and_ca_certificates_are_not_taken_for_leaves(
    good_inventory: Path, local_ca: LocalCA
) -> None:
    folder = good_inventory / "good"
    chain = local_ca.intermediate_pem
    for name in ("chain.pem", "fullchain.pem", "ca.crt", "www.example.net.chain.pem"):
        write(folder / name, chain)
    # A CA certificate under a name that looks like a leaf's, without a key.
    write(folder / "issuing-ca.crt", local_ca.intermediate_pem + local_ca.root_pem)

    entries, problems = scan(good_inventory)

    assert problems == []
    assert list(entries) == ["good/www.example.net"]


def test_the_leaf_of_a_bundle_is_found_whatever_the_order(
    tmp_path: Path, issue: Issue, ec_key: ec.EllipticCurvePrivateKey, local_ca: LocalCA
) -> None:
    bundle = issue(ec_key, "www.example.org", ("www.example.org",))
    leaf_pem = bundle.removesuffix(local_ca.intermediate_pem)
    write_pair(tmp_path, "root-first", local_ca.intermediate_pem + leaf_pem, ec_key)

    entries, problems = scan(tmp_path)

    assert problems == []
    assert entries["root-first"].facts.common_name == "www.example.org"


def encrypted_key(ec_key: ec.EllipticCurvePrivateKey) -> bytes:
    return ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )


BadInput = Callable[
    [Path, bytes, ec.EllipticCurvePrivateKey, ec.EllipticCurvePrivateKey],
    tuple[Path, str],
]


def empty_file(
    folder: Path,
    chain: bytes,
    key: ec.EllipticCurvePrivateKey,
    other: ec.EllipticCurvePrivateKey,
) -> tuple[Path, str]:
    certificate, _ = write_pair(folder, "bad", b"", key)
    return certificate, "empty file"


def not_pem(
    folder: Path,
    chain: bytes,
    key: ec.EllipticCurvePrivateKey,
    other: ec.EllipticCurvePrivateKey,
) -> tuple[Path, str]:
    certificate, _ = write_pair(
        folder, "bad", b"hello, this is not a certificate\n", key
    )
    return certificate, "not a PEM file: no '-----BEGIN CERTIFICATE-----' line"


def der_file(
    folder: Path,
    chain: bytes,
    key: ec.EllipticCurvePrivateKey,
    other: ec.EllipticCurvePrivateKey,
) -> tuple[Path, str]:
    der = x509.load_pem_x509_certificates(chain)[0].public_bytes(
        serialization.Encoding.DER
    )
    certificate, _ = write_pair(folder, "bad", der, key)
    return certificate, (
        "is a DER (binary) certificate, not PEM; convert it with: openssl x509 "
        f"-inform der -in {certificate} -out {certificate}.pem"
    )


def truncated(
    folder: Path,
    chain: bytes,
    key: ec.EllipticCurvePrivateKey,
    other: ec.EllipticCurvePrivateKey,
) -> tuple[Path, str]:
    certificate, _ = write_pair(folder, "bad", chain[:300], key)
    return (
        certificate,
        "truncated: '-----BEGIN CERTIFICATE-----' has no matching END line",
    )


def corrupt(
    folder: Path,
    chain: bytes,
    key: ec.EllipticCurvePrivateKey,
    other: ec.EllipticCurvePrivateKey,
) -> tuple[Path, str]:
    lines = chain.split(b"\n")
    lines[3] = b"A" * len(lines[3])
    certificate, _ = write_pair(folder, "bad", b"\n".join(lines), key)
    return certificate, "certificate 1 of the file is corrupt: "


def key_without_certificate(
    folder: Path,
    chain: bytes,
    key: ec.EllipticCurvePrivateKey,
    other: ec.EllipticCurvePrivateKey,
) -> tuple[Path, str]:
    key_file = write(folder / "bad.key", key_pem(key), 0o600)
    return key_file, "key without a certificate: no bad.crt or bad.pem beside it"


def certificate_without_key(
    folder: Path,
    chain: bytes,
    key: ec.EllipticCurvePrivateKey,
    other: ec.EllipticCurvePrivateKey,
) -> tuple[Path, str]:
    certificate = write(folder / "bad.crt", chain)
    return certificate, "certificate without a key: expected bad.key beside it"


def key_of_another_certificate(
    folder: Path,
    chain: bytes,
    key: ec.EllipticCurvePrivateKey,
    other: ec.EllipticCurvePrivateKey,
) -> tuple[Path, str]:
    _, key_file = write_pair(folder, "bad", chain, other)
    return key_file, "key does not match its certificate (thumbprint "


def corrupt_key(
    folder: Path,
    chain: bytes,
    key: ec.EllipticCurvePrivateKey,
    other: ec.EllipticCurvePrivateKey,
) -> tuple[Path, str]:
    lines = key_pem(key).split(b"\n")
    lines[1] = b"A" * len(lines[1])
    write(folder / "bad.crt", chain)
    key_file = write(folder / "bad.key", b"\n".join(lines), 0o600)
    return key_file, "private key is corrupt: "


def truncated_key(
    folder: Path,
    chain: bytes,
    key: ec.EllipticCurvePrivateKey,
    other: ec.EllipticCurvePrivateKey,
) -> tuple[Path, str]:
    lines = key_pem(key).split(b"\n")
    write(folder / "bad.crt", chain)
    key_file = write(folder / "bad.key", b"\n".join([*lines[:2], lines[-2]]), 0o600)
    return key_file, "private key is corrupt: "


def encrypted(
    folder: Path,
    chain: bytes,
    key: ec.EllipticCurvePrivateKey,
    other: ec.EllipticCurvePrivateKey,
) -> tuple[Path, str]:
    write(folder / "bad.crt", chain)
    key_file = write(folder / "bad.key", encrypted_key(key), 0o600)
    return key_file, "private key is encrypted with a passphrase"


def key_in_certificate_file(
    folder: Path,
    chain: bytes,
    key: ec.EllipticCurvePrivateKey,
    other: ec.EllipticCurvePrivateKey,
) -> tuple[Path, str]:
    certificate, _ = write_pair(folder, "bad", key_pem(key), key)
    return certificate, "holds a private key, not a certificate"


def huge_file(
    folder: Path,
    chain: bytes,
    key: ec.EllipticCurvePrivateKey,
    other: ec.EllipticCurvePrivateKey,
) -> tuple[Path, str]:
    certificate, _ = write_pair(folder, "bad", b"", key)
    with certificate.open("r+b") as stream:
        stream.truncate(2 * 1024 * 1024)  # sparse: cheap to make
    return certificate, (
        "too large for a certificate or key (2097152 bytes, the limit is "
        "1048576); not read"
    )


def self_symlink(
    folder: Path,
    chain: bytes,
    key: ec.EllipticCurvePrivateKey,
    other: ec.EllipticCurvePrivateKey,
) -> tuple[Path, str]:
    link = folder / "bad.crt"
    link.symlink_to("bad.crt")
    return link, "symlink loop: the link points back to itself; not followed"


def folder_loop(
    folder: Path,
    chain: bytes,
    key: ec.EllipticCurvePrivateKey,
    other: ec.EllipticCurvePrivateKey,
) -> tuple[Path, str]:
    link = folder / "sub" / "up"
    link.parent.mkdir()
    link.symlink_to("..")
    return (
        link,
        f"symlink loop: leads back to {folder}, which contains it; not followed",
    )


def broken_symlink(
    folder: Path,
    chain: bytes,
    key: ec.EllipticCurvePrivateKey,
    other: ec.EllipticCurvePrivateKey,
) -> tuple[Path, str]:
    link = folder / "bad.crt"
    link.symlink_to("gone.crt")
    return link, "broken symlink: its target does not exist"


@pytest.mark.parametrize(
    "make_bad_input",
    [
        empty_file,
        not_pem,
        der_file,
        truncated,
        corrupt,
        key_without_certificate,
        certificate_without_key,
        key_of_another_certificate,
        corrupt_key,
        truncated_key,
        encrypted,
        key_in_certificate_file,
        huge_file,
        self_symlink,
        folder_loop,
        broken_symlink,
    ],
)
def test_each_bad_input_is_one_problem_with_its_file_and_reason_and_the_scan_goes_on(
    good_inventory: Path,
    issue: Issue,
    ec_key: ec.EllipticCurvePrivateKey,
    other_ec_key: ec.EllipticCurvePrivateKey,
    make_bad_input: BadInput,
) -> None:
    folder = good_inventory / "good"
    path, reason = make_bad_input(folder, issue(ec_key), ec_key, other_ec_key)

    entries, problems = scan(good_inventory)

    assert [p.location for p in problems] == [str(path)]
    assert problems[0].error.startswith(reason)
    assert problems[0].source == f"files:{good_inventory}"
    assert list(entries) == ["good/www.example.net"]


def test_an_unreadable_file_is_a_problem_saying_permission_denied(
    good_inventory: Path, issue: Issue, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    certificate, _ = write_pair(
        good_inventory / "good", "locked", issue(ec_key), ec_key
    )
    certificate.chmod(0o000)
    # Root reads any file; without the two DAC capabilities it obeys modes.
    drop_root_powers = (
        ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
        if os.geteuid() == 0
        else []
    )

    result = subprocess.run(
        [
            *drop_root_powers,
            sys.executable,
            "-m",
            "certrenew",
            "scan",
            "--json",
            str(good_inventory),
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    problems = [item for item in json.loads(result.stdout) if item["kind"] == "problem"]
    assert problems == [
        {
            "kind": "problem",
            "source": f"files:{good_inventory}",
            "path": str(certificate),
            "error": "cannot read: permission denied",
        }
    ]
    assert result.returncode == 1


def test_a_missing_inventory_folder_is_one_problem(tmp_path: Path) -> None:
    entries, problems = scan(tmp_path / "nowhere")

    assert entries == {}
    assert [p.error for p in problems] == ["inventory folder does not exist"]


@pytest.mark.parametrize(
    "rewrite",
    [
        ("ec", "-no_public"),
        ("ec", "-conv_form", "compressed"),
        ("pkcs8", "-topk8", "-nocrypt"),
    ],
    ids=["without-public-point", "compressed-point", "pkcs8-by-openssl"],
)
def test_a_key_in_any_form_openssl_writes_is_checked_against_its_certificate(
    tmp_path: Path,
    issue: Issue,
    ec_key: ec.EllipticCurvePrivateKey,
    other_ec_key: ec.EllipticCurvePrivateKey,
    rewrite: tuple[str, ...],
) -> None:
    # Some forms carry no public point the scan's quick check can compare;
    # cryptography then decides, for the matching key and the other alike.
    for name, key in (("own", ec_key), ("other", other_ec_key)):
        _, key_file = write_pair(tmp_path, name, issue(ec_key, f"{name}.example"), key)
        converted = subprocess.run(
            ["openssl", *rewrite, "-in", str(key_file)],
            check=True,
            capture_output=True,
        ).stdout
        key_file.write_bytes(converted)

    entries, problems = scan(tmp_path)

    assert list(entries) == ["own"]
    assert [p.location for p in problems] == [str(tmp_path / "other.key")]
    assert problems[0].error.startswith("key does not match its certificate")


def test_two_certificate_files_for_one_name_are_reported_and_the_crt_is_used(
    good_inventory: Path, issue: Issue, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    folder = good_inventory / "good"
    write(folder / "www.example.net.pem", issue(ec_key, "other.example.net"))

    entries, problems = scan(good_inventory)

    assert [p.location for p in problems] == [str(folder / "www.example.net.pem")]
    assert problems[0].error.startswith(
        "two certificate files for 'good/www.example.net'"
    )
    assert entries["good/www.example.net"].facts.common_name == "www.example.net"


def test_a_sidecar_overrides_the_configured_order_policy_and_labels(
    good_inventory: Path,
) -> None:
    write(
        good_inventory / "good" / "www.example.net.certrenew.toml",
        b'[order]\ncomments = "from the sidecar"\n\n'
        b"[policy]\nfloor_days = 45\n\n"
        b'[labels]\nteam = "payments"\n',
    )
    settings = Settings.model_validate(
        {
            "order": {"organization_id": 112233, "comments": "global"},
            "overrides": {
                "good/www.example.net": {
                    "order": {"order_validity_years": 2},
                    "policy": {"floor_days": 40, "renew_fraction": 0.5},
                }
            },
        }
    )

    entries, problems = scan(good_inventory, settings)

    assert problems == []
    entry = entries["good/www.example.net"]
    assert entry.order.comments == "from the sidecar"
    assert entry.order.organization_id == 112233
    assert entry.order.order_validity_years == 2
    assert entry.policy.floor_days == 45
    assert entry.policy.renew_fraction == 0.5
    assert entry.labels == {"team": "payments"}


@pytest.mark.parametrize(
    ("sidecar", "message"),
    [
        (
            b'[order]\npayment_method = "card"\n',
            "order.payment_method: 'card' is refused: an unattended service must "
            "not hold card numbers",
        ),
        (b"[policy]\nflor_days = 10\n", "policy.flor_days: unknown setting"),
        (
            b"[policy]\nrenew_fraction = 2\n",
            "policy.renew_fraction: Input should be less than 1 (given: 2)",
        ),
        (b"[deploy]\nhook = 1\n", "unknown table [deploy]: a sidecar holds only"),
        (b"[labels]\nteam = 7\n", "labels.team: must be a string (given: 7)"),
        (b"[order\n", "not valid TOML: "),
    ],
)
def test_a_bad_sidecar_is_a_problem_naming_the_file_key_rule_and_value(
    good_inventory: Path, sidecar: bytes, message: str
) -> None:
    sidecar_path = write(
        good_inventory / "good" / "www.example.net.certrenew.toml", sidecar
    )

    entries, problems = scan(good_inventory)

    assert entries == {}
    assert [p.location for p in problems] == [str(sidecar_path)]
    assert problems[0].error.startswith(message)


def test_a_sidecar_without_its_certificate_is_reported(good_inventory: Path) -> None:
    sidecar = write(good_inventory / "gone.certrenew.toml", b"[labels]\n")

    _, problems = scan(good_inventory)

    assert [p.location for p in problems] == [str(sidecar)]
    assert "but no certificate gone.crt or gone.pem" in problems[0].error


def test_load_reads_one_entry_afresh(
    good_inventory: Path, issue: Issue, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    source = FileSource(good_inventory, Settings())
    before = source.load("good/www.example.net")
    write(
        good_inventory / "good" / "www.example.net.crt",
        issue(ec_key, "www.example.net", days_left=300),
    )

    after = source.load("good/www.example.net")

    assert after.facts.thumbprint != before.facts.thumbprint
    assert after.name == "good/www.example.net"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("good/nothing.example.net", "no certificate named 'good/nothing.example.net'"),
        ("../etc/passwd", "must be a relative path below the inventory folder"),
    ],
)
def test_load_refuses_unknown_names_and_names_outside_the_root(
    good_inventory: Path, name: str, message: str
) -> None:
    with pytest.raises(InventoryError, match=message):
        FileSource(good_inventory, Settings()).load(name)


def test_load_says_what_is_wrong_with_a_broken_entry(good_inventory: Path) -> None:
    certificate = good_inventory / "good" / "www.example.net.crt"
    certificate.write_bytes(b"")

    with pytest.raises(InventoryError, match=f"{certificate}: empty file"):
        FileSource(good_inventory, Settings()).load("good/www.example.net")
