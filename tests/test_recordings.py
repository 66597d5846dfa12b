"""Call recordings (B2): attachRecording, replacing, audio only, the Twilio recording callback,
share links (no key, expiry, revocation), other accounts, and Call.recording batched -- on both
backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from crm.models import Attachment, JourneyEvent, RecordingShare
from dossier import Settings
from dossier.plugin import Actor, BadInput, local_id, store_recording_from_url
from graph.ids import global_id_text
from plugins import hookimpl
from tests import audio_samples as audio
from tests.conftest import Api, AppFactory, Tenant, make_tenant
from tests.fakes.twilio_api import FakeTwilio, signed_headers

RECORDING = "recording { duration contentType filename size sha256 downloadUrl shareUrl }"
CREATE_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
LOG_CALL = "mutation($i: LogCallInput!) { logCall(input: $i) { id recordingUrl recording { duration } } }"
ATTACH = f"mutation($i: AttachRecordingInput!) {{ attachRecording(input: $i) {{ id {RECORDING} }} }}"
SHARE_FIELDS = "id url active expiresAt revokedAt createdByName createdBy { name } call { id }"
SHARE = f"mutation($i: ShareRecordingInput!) {{ shareRecording(input: $i) {{ {SHARE_FIELDS} }} }}"
REVOKE = (
    f"mutation($i: RevokeRecordingShareInput!) {{ revokeRecordingShare(input: $i) {{ {SHARE_FIELDS} }} }}"
)
CALL = f"query($id: ID!) {{ node(id: $id) {{ ... on Call {{ id recordingUrl {RECORDING} }} }} }}"
SHARES = "query($id: ID!) { node(id: $id) { ... on Call { recording { shares { id url } } } } }"
SHARE_URL = (
    "query($id: ID!, $s: Int) { node(id: $id) { ... on Call { recording { shareUrl(expiresIn: $s) } } } }"
)
RECORDING_PATH = "/webhooks/twilio/recording"
CALL_SID = "CA" + "a" * 32
RECORDING_SID = "RE" + "b" * 32


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


async def new_call(api: Api, *, provider_call_id: str | None = None, name: str = "Ada") -> str:
    contact = (await api.data(CREATE_CONTACT, {"i": {"firstName": name}}))["createContact"]["id"]
    logged = {
        "contactId": contact,
        "occurredAt": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "direction": "INBOUND",
        "durationSeconds": 95,
        "outcome": "SPOKE",
    }
    if provider_call_id is not None:
        logged["providerCallId"] = provider_call_id
    return (await api.data(LOG_CALL, {"i": logged}))["logCall"]["id"]


async def attach_body(
    api: Api, call_id: str, data: bytes, filename: str, *, key: str | None = None
) -> dict[str, Any]:
    """attachRecording over the GraphQL multipart request spec: the whole response body."""
    operations = orjson.dumps(
        {"query": ATTACH, "variables": {"i": {"callId": call_id, "file": None}}}
    ).decode()
    response = await api.client.post(
        "/graphql",
        data={"operations": operations, "map": orjson.dumps({"0": ["variables.i.file"]}).decode()},
        files={"0": (filename, data, "application/octet-stream")},
        headers={"Authorization": f"Bearer {key or api.key}"},
    )
    assert response.status_code < 500, response.text
    return response.json()


async def attach(api: Api, call_id: str, data: bytes, filename: str = "call.wav") -> dict[str, Any]:
    body = await attach_body(api, call_id, data, filename)
    assert not body.get("errors"), body
    return body["data"]["attachRecording"]


async def attach_error(api: Api, call_id: str, data: bytes, filename: str, **kwargs: Any) -> dict[str, Any]:
    body = await attach_body(api, call_id, data, filename, **kwargs)
    assert body.get("data") is None and len(body["errors"]) == 1, body
    return body["errors"][0]


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def stored_objects(settings: Settings) -> list[Path]:
    root = Path(settings.storage_dir or "")
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def snapshot() -> dict[str, Any]:
    return {
        "attachments": await Attachment.all().order_by("id").values("id", "call_id", "kind", "storage_key"),
        "shares": await RecordingShare.all().order_by("id").values("id", "revoked_at", "expires_at"),
        "journey": await JourneyEvent.all().count(),
    }


class Recorder:
    """A plugin that keeps the recording events it is given."""

    name = "recording-recorder"

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    @hookimpl
    def recording_attached(self, event: Any) -> None:
        self.events.append(("recording_attached", event))

    @hookimpl
    def recording_shared(self, event: Any) -> None:
        self.events.append(("recording_shared", event))

    @hookimpl
    def recording_share_revoked(self, event: Any) -> None:
        self.events.append(("recording_share_revoked", event))


# --------------------------------------------------------------------------------------
# attachRecording
# --------------------------------------------------------------------------------------


async def test_attach_stores_the_audio_times_it_journals_it_and_serves_it(
    running_app: AppFactory, settings: Settings
) -> None:
    recorder = Recorder()
    async with running_app(plugins=(recorder,)) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        call_id = await new_call(api)
        wav = audio.wav(seconds=2.5)

        call = await attach(api, call_id, wav, "C:\\calls\\ada.wav")

        recording = call["recording"]
        assert recording["duration"] == 3  # 2.5 s, rounded up
        assert recording["contentType"] == "audio/wav"
        assert recording["filename"] == "ada.wav"
        assert recording["size"] == len(wav)
        assert recording["shareUrl"] is None  # nothing shared yet
        download = await api.client.get(path_of(recording["downloadUrl"]))  # no API key
        assert download.status_code == 200 and download.content == wav
        assert download.headers["content-type"] == "audio/wav"
        assert download.headers["x-content-type-options"] == "nosniff"
        # Read back the same way, and the journal says what happened on the call.
        assert (await api.data(CALL, {"id": call_id}))["node"]["recording"]["sha256"] == recording["sha256"]
        [entry] = await JourneyEvent.filter(kind="RECORDING_ATTACHED").values()
        assert entry["subject_type"] == "Call" and entry["subject_id"] == local_id(call_id, "Call")
        assert "added a recording" in entry["summary"] and "(0:03)" in entry["summary"]
        # One entry for the call, not a second ATTACHMENT_ADDED for the same upload.
        assert await JourneyEvent.filter(kind="ATTACHMENT_ADDED").count() == 0
        await app.runtime.dispatcher.drain()
        [(hook, event)] = recorder.events
        assert hook == "recording_attached"
        assert event.subject["contentType"] == "audio/wav" and event.subject["durationSeconds"] == 3
        assert event.subject["source"] == "upload" and event.subject["replacedAttachmentId"] is None


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "duration"),
    [
        pytest.param(audio.mp3(3), "call.mp3", "audio/mpeg", 3, id="mp3"),
        pytest.param(audio.wav(1.0), "call.wav", "audio/wav", 1, id="wav"),
        pytest.param(audio.ogg_opus(), "call.ogg", "audio/ogg", None, id="ogg-opus-head-only"),
        pytest.param(audio.mp4(b"soun"), "call.m4a", "audio/mp4", None, id="m4a"),
        pytest.param(audio.mp4(b"soun", brand=b"M4A "), "call.mp4", "audio/mp4", None, id="m4a-brand"),
        pytest.param(audio.webm(track_type=2), "call.webm", "audio/webm", None, id="webm-audio"),
        # The name is a hint only: the bytes say mp3.
        pytest.param(audio.mp3(2), "call.pdf", "audio/mpeg", 2, id="mp3-named-pdf"),
    ],
)
async def test_every_audio_kind_is_taken_by_its_bytes(
    as_admin: Api, data: bytes, filename: str, content_type: str, duration: int | None
) -> None:
    call_id = await new_call(as_admin)
    recording = (await attach(as_admin, call_id, data, filename))["recording"]
    assert recording["contentType"] == content_type
    assert recording["duration"] == duration


@pytest.mark.parametrize(
    ("data", "filename", "says"),
    [
        pytest.param(audio.PDF, "call.mp3", "not a recording", id="pdf-named-mp3"),
        pytest.param(audio.PNG, "call.wav", "not a recording", id="png"),
        pytest.param(audio.mp4(b"vide"), "call.m4a", "not a recording", id="mp4-video"),
        pytest.param(audio.webm(track_type=1), "call.webm", "not a recording", id="webm-video"),
        pytest.param(b"MZ\x90\x00" + b"\x00" * 200, "call.mp3", "not a recording", id="exe-named-mp3"),
        pytest.param(b"", "call.mp3", "not a recording", id="empty"),
    ],
)
async def test_anything_but_audio_is_refused_and_nothing_changes(
    as_admin: Api, settings: Settings, data: bytes, filename: str, says: str
) -> None:
    call_id = await new_call(as_admin)
    before, files_before = await snapshot(), stored_objects(settings)
    error = await attach_error(as_admin, call_id, data, filename)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert says in error["message"] and "MP3" in error["message"]
    assert await snapshot() == before
    assert stored_objects(settings) == files_before


async def test_a_recording_over_the_size_limit_is_refused(
    running_app: AppFactory, settings: Settings
) -> None:
    async with running_app(attachment_max_bytes=10_000) as app:
        api = app.as_((await make_tenant("Acme")).admin_key)
        call_id = await new_call(api)
        before = await snapshot()
        error = await attach_error(api, call_id, audio.wav(seconds=1.0), "big.wav")  # 16 kB
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and "size limit" in error["message"]
        assert await snapshot() == before and stored_objects(settings) == []


async def test_attaching_again_replaces_the_recording_and_ends_its_shares(
    as_admin: Api, settings: Settings
) -> None:
    call_id = await new_call(as_admin)
    first = (await attach(as_admin, call_id, audio.mp3(3), "first.mp3"))["recording"]
    share = (await as_admin.data(SHARE, {"i": {"callId": call_id}}))["shareRecording"]
    assert (await as_admin.client.get(path_of(share["url"]))).status_code == 200
    [old_object] = stored_objects(settings)

    second = (await attach(as_admin, call_id, audio.wav(1.0), "second.wav"))["recording"]

    assert second["filename"] == "second.wav" and second["sha256"] != first["sha256"]
    rows = await Attachment.filter(call_id=local_id(call_id, "Call")).values("filename", "kind")
    assert rows == [{"filename": "second.wav", "kind": "RECORDING"}]  # at most one per call
    assert not old_object.exists() and len(stored_objects(settings)) == 1
    assert (await as_admin.client.get(path_of(first["downloadUrl"]))).status_code == 404
    # A link shared the first recording: it never starts playing another one.
    assert (await as_admin.client.get(path_of(share["url"]))).status_code == 404
    assert await RecordingShare.all().count() == 0
    entries = await JourneyEvent.filter(kind="RECORDING_ATTACHED").order_by("id").values("summary", "changes")
    assert "replaced the recording" in entries[1]["summary"]
    old_id, new_id = entries[1]["changes"]["recording"]
    assert old_id is not None and new_id != old_id


async def test_the_external_recording_url_keeps_working_beside_a_stored_recording(as_admin: Api) -> None:
    contact = (await as_admin.data(CREATE_CONTACT, {"i": {"firstName": "Ada"}}))["createContact"]["id"]
    logged = await as_admin.data(
        LOG_CALL,
        {
            "i": {
                "contactId": contact,
                "occurredAt": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                "direction": "OUTBOUND",
                "durationSeconds": 30,
                "outcome": "SPOKE",
                "recordingUrl": "https://recordings.example.com/a.mp3",
            }
        },
    )
    call_id = logged["logCall"]["id"]
    assert logged["logCall"]["recordingUrl"] == "https://recordings.example.com/a.mp3"
    assert logged["logCall"]["recording"] is None
    await attach(as_admin, call_id, audio.mp3(2))
    call = (await as_admin.data(CALL, {"id": call_id}))["node"]
    assert call["recordingUrl"] == "https://recordings.example.com/a.mp3"
    assert call["recording"]["contentType"] == "audio/mpeg"


async def test_provider_call_ids_are_checked_and_unique(as_admin: Api) -> None:
    await new_call(as_admin, provider_call_id=CALL_SID)
    contact = (await as_admin.data(CREATE_CONTACT, {"i": {"firstName": "Bo"}}))["createContact"]["id"]
    logged = {
        "contactId": contact,
        "occurredAt": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "direction": "INBOUND",
        "durationSeconds": 10,
        "outcome": "SPOKE",
    }
    before = await JourneyEvent.all().count()
    again = await as_admin.error(LOG_CALL, {"i": {**logged, "providerCallId": CALL_SID}})
    assert again["extensions"]["code"] == "CONFLICT" and "providerCallId" in again["message"]
    bad = await as_admin.error(LOG_CALL, {"i": {**logged, "providerCallId": "CA 1/2"}})
    assert bad["extensions"]["code"] == "BAD_USER_INPUT" and "providerCallId" in bad["message"]
    assert await JourneyEvent.all().count() == before


# --------------------------------------------------------------------------------------
# The Twilio recording callback
# --------------------------------------------------------------------------------------


def completed(**overrides: str) -> dict[str, str]:
    form = {
        "AccountSid": "AC" + "f" * 32,
        "CallSid": CALL_SID,
        "RecordingSid": RECORDING_SID,
        "RecordingUrl": "",
        "RecordingStatus": "completed",
        "RecordingDuration": "3",
        "RecordingChannels": "1",
        "RecordingSource": "RecordVerb",
    }
    form.update(overrides)
    return form


async def callback(api: Api, params: dict[str, str], path: str = RECORDING_PATH, **headers: str) -> Any:
    signed = headers or signed_headers(path, params)
    return await api.client.post(path, data=params, headers=signed)


async def test_a_signed_twilio_callback_fetches_and_stores_the_recording(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    from tests.fakes.twilio_api import PUBLIC_URL

    mp3 = audio.mp3(3)
    twilio.recordings[RECORDING_SID] = mp3
    recorder = Recorder()
    async with running_app(env=twilio.env(), public_url=PUBLIC_URL, plugins=(recorder,)) as app:
        api = app.as_((await make_tenant("Acme")).admin_key)
        call_id = await new_call(api, provider_call_id=CALL_SID)
        params = completed(RecordingUrl=twilio.recording_url(RECORDING_SID))

        response = await callback(api, params)

        assert response.status_code == 200, response.text
        [fetch] = twilio.recording_fetches
        assert fetch.path.endswith(f"/Recordings/{RECORDING_SID}.mp3")
        assert fetch.auth == (twilio.account_sid, twilio.auth_token)
        recording = (await api.data(CALL, {"id": call_id}))["node"]["recording"]
        assert recording["contentType"] == "audio/mpeg" and recording["filename"] == f"{RECORDING_SID}.mp3"
        assert recording["duration"] == 3
        assert (await api.client.get(path_of(recording["downloadUrl"]))).content == mp3
        [entry] = await JourneyEvent.filter(kind="RECORDING_ATTACHED").values("actor_kind", "actor_name")
        assert entry == {"actor_kind": "PLUGIN", "actor_name": "twilio"}
        await app.runtime.dispatcher.drain()
        assert recorder.events[0][1].subject["source"] == "twilio"

        # Twilio repeats a callback it is unsure of: nothing is fetched or stored twice.
        again = await callback(api, params)
        assert again.status_code == 200 and len(twilio.recording_fetches) == 1
        assert await Attachment.all().count() == 1


async def test_the_callback_url_may_name_the_call(running_app: AppFactory, twilio: FakeTwilio) -> None:
    from tests.fakes.twilio_api import PUBLIC_URL

    twilio.recordings[RECORDING_SID] = audio.mp3(2)
    async with running_app(env=twilio.env(), public_url=PUBLIC_URL) as app:
        api = app.as_((await make_tenant("Acme")).admin_key)
        call_id = await new_call(api)  # logged without a CallSid
        path = f"{RECORDING_PATH}?call={local_id(call_id, 'Call')}"
        response = await callback(api, completed(RecordingUrl=twilio.recording_url(RECORDING_SID)), path)
        assert response.status_code == 200, response.text
        assert (await api.data(CALL, {"id": call_id}))["node"]["recording"]["contentType"] == "audio/mpeg"


async def test_a_bad_signature_is_refused_and_nothing_is_fetched(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    from tests.fakes.twilio_api import PUBLIC_URL

    twilio.recordings[RECORDING_SID] = audio.mp3(2)
    async with running_app(env=twilio.env(), public_url=PUBLIC_URL) as app:
        api = app.as_((await make_tenant("Acme")).admin_key)
        await new_call(api, provider_call_id=CALL_SID)
        params = completed(RecordingUrl=twilio.recording_url(RECORDING_SID))
        before = await snapshot()
        forged = signed_headers(RECORDING_PATH, params, token="not-the-auth-token")
        for headers in (forged, {"X-Twilio-Signature": ""}):
            response = await api.client.post(RECORDING_PATH, data=params, headers=headers)
            assert response.status_code == 403
        # A signature over other parameters does not carry over to these.
        other = signed_headers(RECORDING_PATH, completed(RecordingUrl=twilio.recording_url("RE" + "c" * 32)))
        assert (await api.client.post(RECORDING_PATH, data=params, headers=other)).status_code == 403
        assert twilio.recording_fetches == [] and await snapshot() == before


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        pytest.param({"CallSid": "CA" + "9" * 32}, RECORDING_PATH, id="unknown-call-sid"),
        pytest.param({"CallSid": "CA" + "9" * 32}, f"{RECORDING_PATH}?call=999999", id="unknown-call-id"),
        pytest.param({"RecordingStatus": "in-progress"}, RECORDING_PATH, id="in-progress"),
        pytest.param({"RecordingStatus": "absent", "RecordingUrl": ""}, RECORDING_PATH, id="absent"),
    ],
)
async def test_callbacks_with_nothing_to_store_are_acknowledged_and_ignored(
    running_app: AppFactory, twilio: FakeTwilio, overrides: dict[str, str], path: str
) -> None:
    from tests.fakes.twilio_api import PUBLIC_URL

    twilio.recordings[RECORDING_SID] = audio.mp3(2)
    async with running_app(env=twilio.env(), public_url=PUBLIC_URL) as app:
        api = app.as_((await make_tenant("Acme")).admin_key)
        await new_call(api, provider_call_id=CALL_SID)
        before = await snapshot()
        params = completed(RecordingUrl=twilio.recording_url(RECORDING_SID))
        params.update(overrides)
        response = await callback(api, params, path)
        assert response.status_code == 200, response.text
        assert twilio.recording_fetches == [] and await snapshot() == before


@pytest.mark.parametrize(
    ("url", "named"),
    [
        pytest.param("https://evil.example.com/2010-04-01/Recordings/RE1", "RecordingUrl", id="not-twilio"),
        pytest.param("http://api.twilio.com/2010-04-01/Recordings/RE1", "RecordingUrl", id="not-https"),
        pytest.param("https://api.twilio.com.evil.example/x", "RecordingUrl", id="lookalike-host"),
        pytest.param("", "RecordingUrl", id="missing"),
    ],
)
async def test_a_recording_url_off_twilio_is_refused(
    running_app: AppFactory, twilio: FakeTwilio, url: str, named: str
) -> None:
    from tests.fakes.twilio_api import PUBLIC_URL

    async with running_app(env=twilio.env(), public_url=PUBLIC_URL) as app:
        api = app.as_((await make_tenant("Acme")).admin_key)
        await new_call(api, provider_call_id=CALL_SID)
        before = await snapshot()
        response = await callback(api, completed(RecordingUrl=url))
        assert response.status_code == 400 and named in response.text
        assert twilio.requests == [] and await snapshot() == before


async def test_a_recording_twilio_cannot_serve_answers_502_and_stores_nothing(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    from tests.fakes.twilio_api import PUBLIC_URL

    async with running_app(env=twilio.env(), public_url=PUBLIC_URL) as app:
        api = app.as_((await make_tenant("Acme")).admin_key)
        await new_call(api, provider_call_id=CALL_SID)
        before = await snapshot()
        response = await callback(api, completed(RecordingUrl=twilio.recording_url(RECORDING_SID)))
        assert response.status_code == 502 and "404" in response.text
        assert await snapshot() == before


async def test_partners_store_a_recording_from_a_url(running_app: AppFactory, twilio: FakeTwilio) -> None:
    """store_recording_from_url, the plugin-facing helper (dossier.plugin)."""
    twilio.recordings[RECORDING_SID] = audio.mp3(2)
    twilio.recordings["RE" + "d" * 32] = audio.PDF
    async with running_app() as app:
        tenant = await make_tenant("Acme")
        api = app.as_(tenant.admin_key)
        call_id = await new_call(api)
        actor = Actor.plugin(await _account_id(tenant), "dialer")
        media = twilio.url + f"/2010-04-01/Accounts/{twilio.account_sid}/Recordings/"
        auth = (twilio.account_sid, twilio.auth_token)

        stored = await store_recording_from_url(
            actor, local_id(call_id, "Call"), media + f"{RECORDING_SID}.mp3", auth=auth
        )
        assert stored.content_type == "audio/mpeg" and stored.kind == "RECORDING"
        before = await snapshot()
        with pytest.raises(BadInput, match="not a recording"):
            await store_recording_from_url(
                actor, local_id(call_id, "Call"), media + "RE" + "d" * 32 + ".mp3", auth=auth
            )
        assert await snapshot() == before


async def _account_id(tenant: Tenant) -> int:
    from crm.models import Account

    return (await Account.get(name=tenant.name)).id


# --------------------------------------------------------------------------------------
# Share links
# --------------------------------------------------------------------------------------


async def test_a_share_link_plays_without_a_key_until_revoked(running_app: AppFactory) -> None:
    recorder = Recorder()
    async with running_app(plugins=(recorder,)) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        call_id = await new_call(api)
        mp3 = audio.mp3(3)
        await attach(api, call_id, mp3, "ada.mp3")

        share = (await api.data(SHARE, {"i": {"callId": call_id, "expiresIn": 3600}}))["shareRecording"]

        assert share["active"] and share["revokedAt"] is None and share["call"]["id"] == call_id
        assert share["createdBy"]["name"] == "Acme Admin" and share["createdByName"] == "Acme Admin"
        assert share["url"].startswith("http://dossier.test/shared/recordings/")
        played = await api.client.get(path_of(share["url"]))  # no Authorization header
        assert played.status_code == 200 and played.content == mp3
        assert played.headers["content-type"] == "audio/mpeg"
        assert played.headers["content-disposition"].startswith("inline;")
        assert 'filename="ada.mp3"' in played.headers["content-disposition"]
        assert played.headers["x-content-type-options"] == "nosniff"
        ranged = await api.client.get(path_of(share["url"]), headers={"Range": "bytes=0-99"})
        assert ranged.status_code == 206 and ranged.content == mp3[:100]  # players can seek
        # The call shows it: Call.recording.shareUrl is the newest active link.
        assert (await api.data(CALL, {"id": call_id}))["node"]["recording"]["shareUrl"] == share["url"]
        newer = (await api.data(SHARE, {"i": {"callId": call_id, "expiresIn": 120}}))["shareRecording"]
        listed = (await api.data(SHARES, {"id": call_id}))["node"]["recording"]["shares"]
        assert [s["id"] for s in listed] == [newer["id"], share["id"]]
        assert (await api.data(SHARE_URL, {"id": call_id, "s": None}))["node"]["recording"][
            "shareUrl"
        ] == newer["url"]
        # Only a link valid for at least another 10 minutes: the older, longer one.
        assert (await api.data(SHARE_URL, {"id": call_id, "s": 600}))["node"]["recording"][
            "shareUrl"
        ] == share["url"]
        assert (await api.data(SHARE_URL, {"id": call_id, "s": 7200}))["node"]["recording"][
            "shareUrl"
        ] is None
        # node(id:) finds a share.
        found = await api.data(
            "query($id: ID!) { node(id: $id) { ... on RecordingShare { url } } }", {"id": share["id"]}
        )
        assert found["node"]["url"] == share["url"]

        revoked = (await api.data(REVOKE, {"i": {"id": share["id"]}}))["revokeRecordingShare"]

        assert revoked["revokedAt"] is not None and not revoked["active"] and revoked["url"] is None
        refused = await api.client.get(path_of(share["url"]))
        assert refused.status_code == 410 and "revoked" in refused.text
        assert refused.headers["content-type"].startswith("text/html")
        assert (await api.client.get(path_of(newer["url"]))).status_code == 200  # the other one still plays
        # Revoking again changes nothing.
        before = await snapshot()
        assert (await api.data(REVOKE, {"i": {"id": share["id"]}}))["revokeRecordingShare"]["revokedAt"]
        assert await snapshot() == before
        kinds = [
            k
            for (k,) in await JourneyEvent.filter(kind__startswith="RECORDING_SHARE")
            .order_by("id")
            .values_list("kind")
        ]
        assert kinds == ["RECORDING_SHARED", "RECORDING_SHARED", "RECORDING_SHARE_REVOKED"]
        await app.runtime.dispatcher.drain()
        hooks = [hook for hook, _ in recorder.events]
        assert hooks == [
            "recording_attached",
            "recording_shared",
            "recording_shared",
            "recording_share_revoked",
        ]
        shared_event = recorder.events[1][1]
        assert shared_event.subject["shareId"] == local_id(share["id"], "RecordingShare")
        assert share["url"].rsplit("/", 1)[1] not in orjson.dumps(shared_event.subject).decode()  # no secret


async def test_an_expired_link_is_refused(as_admin: Api) -> None:
    call_id = await new_call(as_admin)
    await attach(as_admin, call_id, audio.wav(1.0))
    share = (await as_admin.data(SHARE, {"i": {"callId": call_id, "expiresIn": 60}}))["shareRecording"]
    assert (await as_admin.client.get(path_of(share["url"]))).status_code == 200
    # Its time passes (moved, not waited for).
    await RecordingShare.filter(id=local_id(share["id"], "RecordingShare")).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    refused = await as_admin.client.get(path_of(share["url"]))
    assert refused.status_code == 410 and "expired" in refused.text
    assert (await as_admin.data(CALL, {"id": call_id}))["node"]["recording"]["shareUrl"] is None


@pytest.mark.parametrize(
    "token",
    [
        "A" * 43,  # well formed, no share has it
        "short",
        "A" * 42 + "!",
        "A" * 44,
    ],
)
async def test_an_unknown_token_is_404(api: Api, token: str) -> None:
    response = await api.client.get(f"/shared/recordings/{token}")
    assert response.status_code == 404 and "not found" in response.text.lower()


@pytest.mark.parametrize(
    ("expires_in", "code"),
    [
        (59, "BAD_USER_INPUT"),
        (0, "BAD_USER_INPUT"),
        (-5, "BAD_USER_INPUT"),
        (30 * 24 * 3600 + 1, "BAD_USER_INPUT"),
    ],
)
async def test_share_lifetimes_are_bounded(as_admin: Api, expires_in: int, code: str) -> None:
    call_id = await new_call(as_admin)
    await attach(as_admin, call_id, audio.wav(1.0))
    before = await snapshot()
    error = await as_admin.error(SHARE, {"i": {"callId": call_id, "expiresIn": expires_in}})
    assert error["extensions"]["code"] == code and "expiresIn" in error["message"]
    assert await snapshot() == before


async def test_the_default_and_the_longest_lifetimes(as_admin: Api) -> None:
    call_id = await new_call(as_admin)
    await attach(as_admin, call_id, audio.wav(1.0))
    default = (await as_admin.data(SHARE, {"i": {"callId": call_id}}))["shareRecording"]
    longest = (await as_admin.data(SHARE, {"i": {"callId": call_id, "expiresIn": 30 * 24 * 3600}}))[
        "shareRecording"
    ]
    now = datetime.now(UTC)
    assert (
        timedelta(days=6, hours=23) < datetime.fromisoformat(default["expiresAt"]) - now <= timedelta(days=7)
    )
    assert (
        timedelta(days=29, hours=23)
        < datetime.fromisoformat(longest["expiresAt"]) - now
        <= timedelta(days=30)
    )


async def test_a_call_without_a_stored_recording_cannot_be_shared(as_admin: Api) -> None:
    call_id = await new_call(as_admin)
    before = await snapshot()
    error = await as_admin.error(SHARE, {"i": {"callId": call_id}})
    assert error["extensions"]["code"] == "NOT_FOUND" and "attachRecording" in error["message"]
    assert await snapshot() == before
    assert (await as_admin.data(CALL, {"id": call_id}))["node"]["recording"] is None


async def test_a_rep_revokes_only_their_own_links(api: Api, acme: Tenant) -> None:
    admin, rep = api.as_(acme.admin_key), api.as_(acme.rep_key)
    call_id = await new_call(admin)
    await attach(admin, call_id, audio.wav(1.0))
    admins = (await admin.data(SHARE, {"i": {"callId": call_id}}))["shareRecording"]
    reps = (await rep.data(SHARE, {"i": {"callId": call_id}}))["shareRecording"]
    before = await snapshot()
    refused = await rep.error(REVOKE, {"i": {"id": admins["id"]}})
    assert refused["extensions"]["code"] == "FORBIDDEN"
    assert await snapshot() == before
    assert (await rep.data(REVOKE, {"i": {"id": reps["id"]}}))["revokeRecordingShare"]["revokedAt"]
    manager = api.as_(acme.manager_key)
    assert (await manager.data(REVOKE, {"i": {"id": admins["id"]}}))["revokeRecordingShare"]["revokedAt"]


async def test_a_call_has_a_bounded_number_of_active_links(as_admin: Api) -> None:
    from crm.services.recordings import MAX_ACTIVE_SHARES

    call_id = await new_call(as_admin)
    await attach(as_admin, call_id, audio.wav(1.0))
    for _ in range(MAX_ACTIVE_SHARES):
        await as_admin.data(SHARE, {"i": {"callId": call_id, "expiresIn": 60}})
    error = await as_admin.error(SHARE, {"i": {"callId": call_id}})
    assert error["extensions"]["code"] == "CONFLICT" and "revoke" in error["message"]


# --------------------------------------------------------------------------------------
# Other accounts
# --------------------------------------------------------------------------------------


async def test_another_account_cannot_attach_share_revoke_or_read(api: Api, settings: Settings) -> None:
    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    victim, attacker = api.as_(acme.admin_key), api.as_(globex.admin_key)
    call_id = await new_call(victim)
    await attach(victim, call_id, audio.mp3(2))
    share = (await victim.data(SHARE, {"i": {"callId": call_id}}))["shareRecording"]
    before, files_before = await snapshot(), stored_objects(settings)

    attached = await attach_error(attacker, call_id, audio.wav(1.0), "x.wav")
    shared = await attacker.error(SHARE, {"i": {"callId": call_id}})
    revoked = await attacker.error(REVOKE, {"i": {"id": share["id"]}})
    read = await attacker.error("query($id: ID!) { node(id: $id) { id } }", {"id": share["id"]})
    missing_call = await attacker.error(SHARE, {"i": {"callId": "Q2FsbDo5OTk5OTk="}})  # Call:999999

    for error in (attached, shared, revoked, read):
        assert error["extensions"]["code"] == "NOT_FOUND", error
    # Another account's id reads exactly like a missing one.
    assert shared["message"].replace(str(local_id(call_id, "Call")), "N") == missing_call["message"].replace(
        "999999", "N"
    )
    assert await snapshot() == before and stored_objects(settings) == files_before
    assert (await victim.client.get(path_of(share["url"]))).status_code == 200


# --------------------------------------------------------------------------------------
# Call.recording on a page of calls
# --------------------------------------------------------------------------------------

CARD_CALLS = """
query($id: ID!) {
  contact(id: $id) {
    calls(first: 100) { id recording { duration contentType downloadUrl shareUrl shares { id url } } }
  }
}
"""


async def test_call_recordings_are_batched_for_a_page_of_calls(as_admin: Api, count_statements: Any) -> None:
    async def card_with(calls: int) -> tuple[str, int]:
        contact = (await as_admin.data(CREATE_CONTACT, {"i": {"firstName": f"C{calls}"}}))["createContact"][
            "id"
        ]
        for i in range(calls):
            logged = await as_admin.data(
                LOG_CALL,
                {
                    "i": {
                        "contactId": contact,
                        "occurredAt": (datetime.now(UTC) - timedelta(hours=i + 1)).isoformat(),
                        "direction": "OUTBOUND",
                        "durationSeconds": 60,
                        "outcome": "SPOKE",
                    }
                },
            )
            call_id = logged["logCall"]["id"]
            if i % 3 != 2:  # some calls have no recording
                await attach(as_admin, call_id, audio.wav(1.0))
                await as_admin.data(SHARE, {"i": {"callId": call_id}})
        with count_statements() as counter:
            data = await as_admin.data(CARD_CALLS, {"id": contact})
        calls_seen = data["contact"]["calls"]
        assert len(calls_seen) == calls
        assert (
            sum(1 for c in calls_seen if c["recording"] and c["recording"]["shareUrl"]) == calls - calls // 3
        )
        return contact, counter.count

    _, few = await card_with(3)
    _, many = await card_with(12)
    assert few == many, (few, many)


# --------------------------------------------------------------------------------------
# The demo
# --------------------------------------------------------------------------------------


async def test_the_demo_has_recordings_and_a_share_link_that_plays(api: Api) -> None:
    from dossier.demo import ensure_demo
    from tests.test_demo import SMALL

    demo = await ensure_demo(**SMALL)
    admin = api.as_(demo.api_key)
    recorded = await Attachment.filter(kind="RECORDING").order_by("id").values("call_id", "content_type")
    assert len(recorded) >= 2 and {r["content_type"] for r in recorded} == {"audio/wav"}
    [share] = await RecordingShare.all().values("call_id")
    call_id = global_id_text("Call", share["call_id"])
    recording = (await admin.data(CALL, {"id": call_id}))["node"]["recording"]
    assert recording["duration"] and recording["shareUrl"]
    played = await api.client.get(path_of(recording["shareUrl"]))  # no key
    assert played.status_code == 200 and played.content[:4] == b"RIFF"
    kinds = await JourneyEvent.filter(kind__in=["RECORDING_ATTACHED", "RECORDING_SHARED"]).count()
    assert kinds == len(recorded) + 1


# --------------------------------------------------------------------------------------
# The README's examples
# --------------------------------------------------------------------------------------


async def test_the_readme_examples_work(as_admin: Api) -> None:
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Call recordings: listen, download, share\n", 1)[1].split("\n### ", 1)[0]
    call_id = await new_call(as_admin)
    # The curl upload: its `operations`, sent as curl sends them, with a real file.
    operations = re.search(r"-F operations='(.*?)' \\", section)
    assert operations is not None, "the README lost its attachRecording example"
    response = await as_admin.client.post(
        "/graphql",
        data={
            "operations": operations.group(1).replace("Q2FsbDox", call_id),
            "map": orjson.dumps({"0": ["variables.i.file"]}).decode(),
        },
        files={"0": ("call.mp3", audio.mp3(3), "audio/mpeg")},
        headers={"Authorization": f"Bearer {as_admin.key}"},
    )
    assert response.json()["data"]["attachRecording"]["recording"] == {
        "duration": 3,
        "contentType": "audio/mpeg",
    }
    share_example, query_example = re.findall(r"```graphql\n(.*?)```", section, re.S)
    shared = (await as_admin.data(share_example.replace("Q2FsbDox", call_id)))["shareRecording"]
    assert "/shared/recordings/" in shared["url"]
    read = (await as_admin.data(query_example.replace("Q2FsbDox", call_id)))["node"]["recording"]
    assert read["shareUrl"] == shared["url"] and [s["id"] for s in read["shares"]] == [shared["id"]]
