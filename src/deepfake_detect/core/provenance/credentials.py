"""C2PA content credentials through the C2PA SDK (``c2pa-python``, a native library), time-bound and
offline; where the SDK is missing, cannot read the container or runs out of time, the manifest store
is still detected by its JUMBF box and reported as present but not validated."""

from __future__ import annotations

import json
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from deepfake_detect.core.provenance.fields import RawFields, clip
from deepfake_detect.core.provenance.model import C2paInfo, Claim, ClaimSource, ProvenanceConfig
from deepfake_detect.core.provenance.rules import is_ai_source_type, source_type_term

# A JUMBF description box ("jumd") whose type is the C2PA manifest store's UUID ("c2pa" + ISO suffix).
C2PA_STORE_MARK = b"jumdc2pa\x00\x11\x00\x10\x80\x00\x00\xaa\x00\x38\x9b\x71"
# The ISO-BMFF (MP4, MOV) box that holds a C2PA manifest store.
C2PA_BMFF_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")

MIME_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
}
# Containers the SDK reads (it has no WebM/Matroska support).
SDK_CONTAINERS = frozenset({"jpg", "png", "webp", "mp4", "mov"})

_MAX_FAILURES = 16
_MAX_ACTIONS = 16
_MAX_WALK = 2000
_HASH_ASSERTIONS = (
    "assertion.dataHash.",
    "assertion.bmffHash.",
    "assertion.boxesHash.",
    "assertion.collectionHash.",
)
_BAD_SIGNATURE = (
    "claimSignature.",
    "signingCredential.invalid",
    "signingCredential.revoked",
    "timeStamp.mismatch",
)


_REMOTE_URL = re.compile(r"^Remote: .*?\burl (\S+)")
_MAX_JPEG_SEGMENTS = 512


def has_store_mark(*windows: bytes) -> bool:
    return any(C2PA_STORE_MARK in window or C2PA_BMFF_UUID in window for window in windows)


def sdk_settings(config: ProvenanceConfig) -> dict[str, Any]:
    """Settings of the SDK's Context: validate everything, trust only the configured anchors, and
    never touch the network (no remote manifests, no OCSP)."""
    trust: dict[str, Any] = {}
    if config.c2pa_trust_anchors_pem:
        trust["trust_anchors"] = config.c2pa_trust_anchors_pem
    if config.c2pa_allowed_certs_pem:
        trust["allowed_list"] = config.c2pa_allowed_certs_pem
    settings: dict[str, Any] = {
        "verify": {
            "verify_after_reading": True,
            "verify_trust": True,
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
        },
        "core": {"allowed_network_hosts": []},
    }
    if trust:
        settings["trust"] = trust
    return settings


@dataclass
class C2paResult:
    info: C2paInfo | None = None
    claims: list[Claim] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _codes(entries: Any) -> list[str]:
    if not isinstance(entries, list):
        return []
    return [str(e.get("code")) for e in entries if isinstance(e, dict) and e.get("code")]


def _failure_text(entries: Any, limit: int) -> list[str]:
    out: list[str] = []
    if not isinstance(entries, list):
        return out
    for entry in entries[:_MAX_FAILURES]:
        if isinstance(entry, dict) and entry.get("code"):
            explanation = entry.get("explanation")
            text = f"{entry['code']}: {explanation}" if explanation else str(entry["code"])
            out.append(clip(text, limit))
    return out


def _verdicts(store: dict[str, Any]) -> tuple[bool | None, bool | None, bool | None, list[str], list[str]]:
    """(signature valid, trusted, hashes match, failure codes, failure texts) of the active manifest."""
    results = store.get("validation_results")
    active = results.get("activeManifest") if isinstance(results, dict) else None
    if isinstance(active, dict):
        success, failure = _codes(active.get("success")), _codes(active.get("failure"))
        failure_entries = active.get("failure")
    else:  # older SDKs: one list of failures
        success, failure = [], _codes(store.get("validation_status"))
        failure_entries = store.get("validation_status")
    state = store.get("validation_state")
    signature: bool | None = None
    if any(code.startswith(_BAD_SIGNATURE) for code in failure):
        signature = False
    elif "claimSignature.validated" in success or state in ("Valid", "Trusted"):
        signature = True
    trusted: bool | None = None
    if "signingCredential.trusted" in success or state == "Trusted":
        trusted = True
    elif "signingCredential.untrusted" in failure or state == "Valid":
        trusted = False
    hashes: bool | None = None
    if any(code.startswith(_HASH_ASSERTIONS) for code in failure):
        hashes = False
    elif any(code.startswith(_HASH_ASSERTIONS) and code.endswith(".match") for code in success):
        hashes = True
    return signature, trusted, hashes, failure, _failure_text(failure_entries, 300)


def _agent(value: Any) -> str | None:
    if isinstance(value, dict):
        name = value.get("name")
        version = value.get("version")
        if name:
            return f"{name} {version}" if version else str(name)
        return None
    return str(value) if value else None


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info:
        return _agent(info[0])
    generator = manifest.get("claim_generator")
    return str(generator) if generator else None


def _source_types(value: Any, found: list[str], budget: list[int]) -> None:
    """Every ``digitalSourceType`` (any namespace prefix, any case) inside an assertion's data."""
    budget[0] -= 1
    if budget[0] < 0:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).rpartition(":")[2].lower() == "digitalsourcetype" and isinstance(item, str):
                found.append(item)
            else:
                _source_types(item, found, budget)
    elif isinstance(value, list):
        for item in value:
            _source_types(item, found, budget)


Verdicts = tuple[bool | None, bool | None, bool | None]
# SDK errors that mean a manifest store is there but broken (not: no store, or an unreadable asset).
_STORE_ERRORS = frozenset(
    {
        "C2paVerify",
        "C2paManifest",
        "C2paSignature",
        "C2paAssertion",
        "C2paDecoding",
        "C2paJson",
        "C2paRemoteManifest",
    }
)


def manifest_claim(
    label: str, manifest: dict[str, Any], active: bool, verdicts: Verdicts, config: ProvenanceConfig
) -> Claim:
    """The claim of one manifest of the store; only the active one carries validation results."""
    raw = RawFields(config.max_fields, config.max_field_chars)
    generator = _claim_generator(manifest)
    raw.add("claim_generator", generator)
    raw.add("title", str(manifest.get("title") or "") or None)
    signature_info = manifest.get("signature_info")
    signer = None
    if isinstance(signature_info, dict):
        signer = signature_info.get("common_name") or signature_info.get("issuer")
        for key in ("issuer", "common_name", "time", "alg"):
            if signature_info.get(key):
                raw.add(f"signature.{key}", str(signature_info[key]))
    ai_type: str | None = None
    ai_action: tuple[str, str | None] | None = None
    first_type: str | None = None
    assertions = manifest.get("assertions")
    actions_seen = 0
    for assertion in assertions if isinstance(assertions, list) else []:
        if not isinstance(assertion, dict):
            continue
        assertion_label = str(assertion.get("label", ""))
        data = assertion.get("data")
        types: list[str] = []
        _source_types(data, types, [_MAX_WALK])
        for value in types:
            first_type = first_type or value
            if ai_type is None and is_ai_source_type(value):
                ai_type = value
        if assertion_label.startswith("c2pa.actions") and isinstance(data, dict):
            actions = data.get("actions")
            for action in actions if isinstance(actions, list) else []:
                if not isinstance(action, dict) or actions_seen >= _MAX_ACTIONS:
                    continue
                actions_seen += 1
                name = str(action.get("action", "?"))
                agent = _agent(action.get("softwareAgent"))
                source_type = action.get("digitalSourceType")
                parts = [name]
                if isinstance(source_type, str):
                    parts.append(f"digitalSourceType={source_type}")
                    if ai_action is None and is_ai_source_type(source_type):
                        ai_action = (name, agent)
                if agent:
                    parts.append(f"softwareAgent={agent}")
                raw.add(f"action.{actions_seen}", " ".join(parts))
        elif types:
            raw.add(f"assertion.{assertion_label}", ", ".join(types))
    signature_valid, trusted, hashes_match = verdicts if active else (None, None, None)
    reason = None
    if ai_type:
        what = (
            f"{ai_action[0]} by {ai_action[1]}"
            if ai_action and ai_action[1]
            else (ai_action[0] if ai_action else None)
        )
        detail = [what] if what else []
        if signer:
            detail.append(f"signed by {signer}")
        if signature_valid is False or hashes_match is False:
            detail.append("the credentials do not validate")
        elif trusted is False:
            detail.append("signer not on the trust list")
        elif trusted:
            detail.append("trusted signer")
        suffix = f" ({'; '.join(detail)})" if detail else ""
        scope = "" if active else " in an ingredient's manifest"
        reason = f"C2PA content credentials declare {source_type_term(ai_type)}{scope}{suffix}"
    if ai_action and ai_action[1]:
        generator = ai_action[1]
    return Claim(
        source=ClaimSource.C2PA,
        digital_source_type=ai_type or first_type,
        declared_ai=ai_type is not None,
        generator=generator,
        reason=reason,
        manifest=label,
        active=active,
        signer=str(signer) if signer else None,
        signature_valid=signature_valid,
        trusted=trusted,
        hashes_match=hashes_match,
        raw=raw.to_dict(),
    )


def parse_store(store: dict[str, Any], config: ProvenanceConfig, sdk_version: str | None) -> C2paResult:
    """Claims and summary of a manifest store as the SDK's ``Reader.json()`` gives it."""
    manifests = store.get("manifests")
    manifests = manifests if isinstance(manifests, dict) else {}
    active_label = store.get("active_manifest")
    active_label = str(active_label) if active_label else None
    signature, trusted, hashes, failures, failure_texts = _verdicts(store)
    ordered = sorted(manifests.items(), key=lambda item: item[0] != active_label)
    claims = [
        manifest_claim(str(label), manifest, label == active_label, (signature, trusted, hashes), config)
        for label, manifest in ordered[: config.max_claims]
        if isinstance(manifest, dict)
    ]
    active_claim = next((c for c in claims if c.active), None)
    active_manifest = manifests.get(active_label) if active_label else None
    signature_info = active_manifest.get("signature_info") if isinstance(active_manifest, dict) else None
    signature_info = signature_info if isinstance(signature_info, dict) else {}
    state = store.get("validation_state")
    info = C2paInfo(
        present=True,
        validated=True,
        validation_state=str(state) if state else ("Invalid" if failures else None),
        signature_valid=signature,
        trusted=trusted,
        hashes_match=hashes,
        signer=active_claim.signer if active_claim else None,
        issuer=str(signature_info["issuer"]) if signature_info.get("issuer") else None,
        signed_at=str(signature_info["time"]) if signature_info.get("time") else None,
        claim_generator=_claim_generator(active_manifest) if isinstance(active_manifest, dict) else None,
        active_manifest=active_label,
        manifests=len(manifests),
        failures=failure_texts,
        sdk_version=sdk_version,
    )
    return C2paResult(info=info, claims=claims)


def _read_with_sdk(
    path: Path, mime: str, config: ProvenanceConfig
) -> tuple[dict[str, Any] | None, str | None]:
    """The manifest store's JSON (None when the file has none) and the SDK's version; raises on
    every other problem."""
    import c2pa  # the native library loads here, not when the package is imported

    context = c2pa.Context.from_dict(sdk_settings(config))
    try:
        with path.open("rb") as stream:
            reader = c2pa.Reader.try_create(mime, stream, None, context)
            if reader is None:
                return None, str(c2pa.sdk_version())
            try:
                store = json.loads(reader.json())
            finally:
                reader.close()
    finally:
        context.close()
    if not isinstance(store, dict):
        raise ValueError("the SDK returned no manifest store object")
    return store, str(c2pa.sdk_version())


def _sdk_loaded() -> bool:
    """The SDK was imported in this process (by an earlier read): where it is missing, every file
    still goes to it, so each result says it is unavailable, as it did."""
    return isinstance(sys.modules.get("c2pa"), ModuleType)


def _jpeg_without_credentials(path: Path) -> bool:
    """True when the JPEG's segments, up to the start of its scan, prove the SDK finds nothing
    there: no APP11 segment (JUMBF, the manifest store's home) and no APP1 segment that mentions
    ``provenance`` (XMP's ``dcterms:provenance`` names a remote manifest). Anything unexpected (a
    header cut short, a stray marker, too many segments) is False: the SDK reads it, and says
    what it says about it."""
    try:
        with path.open("rb") as stream:
            if stream.read(2) != b"\xff\xd8":
                return False
            for _ in range(_MAX_JPEG_SEGMENTS):
                head = stream.read(4)
                if len(head) < 4 or head[0] != 0xFF:
                    return False
                marker, length = head[1], int.from_bytes(head[2:4], "big")
                if marker in (0x00, 0x01, 0xD8, 0xD9, 0xEB, 0xFF) or 0xD0 <= marker <= 0xD7 or length < 2:
                    return False  # a stray or standalone marker, or APP11
                body = stream.read(length - 2)
                if len(body) < length - 2 or (marker == 0xE1 and b"provenance" in body):
                    return False
                if marker == 0xDA:  # the start of scan: no more metadata segments
                    return True
    except OSError:
        return False
    return False


def _unvalidated(error: str, remote_url: str | None = None) -> C2paInfo:
    return C2paInfo(present=True, validated=False, error=error, remote_url=remote_url)


def read_credentials(
    path: Path, container: str | None, size: int, marked: bool, config: ProvenanceConfig
) -> C2paResult:
    """Read and validate the file's C2PA manifest store, within the configured size and time."""
    mime = MIME_TYPES.get(container or "")
    if not config.c2pa_enabled or mime is None or container not in SDK_CONTAINERS:
        reason = (
            "C2PA reading is switched off"
            if not config.c2pa_enabled
            else "the C2PA SDK cannot read this container"
        )
        return C2paResult(info=_unvalidated(reason) if marked else None)
    if size > config.c2pa_max_file_bytes:
        message = (
            f"c2pa: the file ({size} bytes) is larger than the {config.c2pa_max_file_bytes} bytes validated"
        )
        return C2paResult(info=_unvalidated(message) if marked else None, errors=[message] if marked else [])

    if container == "jpg" and not marked and _sdk_loaded() and _jpeg_without_credentials(path):
        return C2paResult()  # what the SDK answers for it (None), without a thread and a Context
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["store"], outcome["version"] = _read_with_sdk(path, mime, config)
        except BaseException as exc:  # ImportError, OSError of the native library, C2paError, ...
            outcome["error"] = exc

    thread = threading.Thread(target=work, name="c2pa-reader", daemon=True)
    thread.start()
    thread.join(config.c2pa_timeout_s)
    if thread.is_alive():
        # A native call cannot be interrupted: it finishes in the background and its result is dropped.
        message = f"c2pa: reading took longer than {config.c2pa_timeout_s:g} s; not validated"
        return C2paResult(info=_unvalidated(message) if marked else None, errors=[message])
    error = outcome.get("error")
    if error is not None:
        kind = type(error).__name__.lstrip("_")
        text = clip(f"{kind}: {error}", 500)
        remote = _REMOTE_URL.search(str(error))
        if remote or kind == "C2paRemoteManifest":
            # Fetching it would let any uploaded file make this service send a request: never done.
            url = clip(remote.group(1), 500) if remote else None
            message = (
                f"c2pa: the manifest store is remote{f' ({url})' if url else ''}; not fetched, not validated"
            )
            return C2paResult(info=_unvalidated(message, remote_url=url), errors=[message])
        present = marked or kind in _STORE_ERRORS
        if isinstance(error, ImportError | OSError) and not isinstance(error, FileNotFoundError):
            message = f"c2pa: the C2PA SDK is unavailable, nothing validated: {text}"
        elif present:
            message = f"c2pa: unreadable manifest store: {text}"
        else:
            message = f"c2pa: the C2PA SDK could not read the file: {text}"
        return C2paResult(info=_unvalidated(message) if present else None, errors=[message])
    store = outcome.get("store")
    if store is None:
        if marked:
            message = "c2pa: a manifest store box was found but the SDK read no manifest from it"
            return C2paResult(info=_unvalidated(message), errors=[message])
        return C2paResult()
    try:
        return parse_store(store, config, outcome.get("version"))
    except Exception as exc:
        message = clip(f"c2pa: unexpected manifest store layout: {type(exc).__name__}: {exc}", 500)
        return C2paResult(info=_unvalidated(message), errors=[message])
