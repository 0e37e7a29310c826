"""The VK adapter without a network: what VK events become, how keyboards and random ids are made,
how errors are judged, the rebased session, and the vk: config section and VK environment."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from vk_api.exceptions import ApiError

from bot.config import ConfigError, Environment, load_config
from bot.outbox import Outgoing, PermanentError, TransientError
from bot.vk_client import RebasedSession, parse_photo_ref, photo_ref
from bot.vk_transport import VkTransport, keyboards, plain_text, random_id, split_text
from handlers.vk.convert import command_of, event_key, payload_action, to_action, to_inbound

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "tests" / "fixtures" / "config_small.yaml"


def message(**fields: Any) -> dict[str, Any]:
    base = {"peer_id": 5001, "from_id": 5001, "conversation_message_id": 7, "date": 1_790_000_000, "text": "",
            "attachments": [], "fwd_messages": [], "id": 12}
    return base | fields


# ------------------------------------------------------------------ events -> platform-neutral


def test_commands_of_citizens_and_staff() -> None:
    assert command_of(message(text="Начать")) == "start"
    assert command_of(message(text="что-то", payload='{"command":"start"}')) == "start"
    assert command_of(message(text="/my")) == "my"
    assert command_of(message(text=" /NEW ")) == "new"
    assert command_of(message(text="/rating 2026-11")) == "rating"  # a command reads its first word
    assert command_of(message(text="Начать сначала")) is None
    assert command_of(message(text="Яма на дороге")) is None
    chat = {"peer_id": 2000000001}
    assert command_of(message(text="[club229000001|@otklik], /open", **chat)) == "open"
    assert command_of(message(text="[public229000001|Отклик] /overdue", **chat)) == "overdue"
    # a mention is only stripped in chats, where VK puts it
    assert command_of(message(text="[club1|x] /open")) is None


def test_a_message_becomes_an_inbound_message() -> None:
    photo = {"id": 9, "owner_id": 5001, "access_key": "k1",
             "sizes": [{"type": "s", "width": 75, "height": 50, "url": "http://x/s.jpg"},
                       {"type": "x", "width": 604, "height": 403, "url": "http://x/x.jpg"}]}
    inbound = to_inbound(message(
        text="Яма", attachments=[{"type": "photo", "photo": photo}],
        geo={"type": "point", "coordinates": {"latitude": 57.6, "longitude": 39.8}},
        reply_message={"conversation_message_id": 3, "text": "карточка"},
    ), {5001: "Анна"}, key="ev:abc")
    assert inbound.platform == "vk" and inbound.chat_id == "5001" and inbound.message_id == "7"
    assert inbound.sender.name == "Анна" and inbound.reply_to == "3" and inbound.location == (57.6, 39.8)
    assert inbound.photos == ("photo5001_9_k1 http://x/x.jpg",)
    assert parse_photo_ref(inbound.photos[0]) == ("photo5001_9_k1", "http://x/x.jpg")
    assert inbound.at.year == 2026 and inbound.at.tzinfo is not None


@pytest.mark.parametrize(
    ("attachments", "kind"),
    [([{"type": "sticker"}], "sticker"), ([{"type": "audio_message"}], "voice"), ([{"type": "doc"}], "document"),
     ([{"type": "wall"}], "other"), ([], "other")],
)
def test_content_the_bot_does_not_take_is_named(attachments: list[dict[str, Any]], kind: str) -> None:
    assert to_inbound(message(attachments=attachments), {}, key="k").unsupported == kind


def test_event_keys_and_presses() -> None:
    assert event_key({"type": "message_new", "event_id": "abc"}) == "ev:abc"
    assert event_key({"type": "message_new", "object": {"message": message()}}) == "msg:5001:7"
    press = {"user_id": 5001, "peer_id": 5001, "event_id": "e1", "payload": {"a": "rate:3:yes"},
             "conversation_message_id": 8}
    action = to_action(press, {}, key="ev:x")
    assert action is not None and action.action == "rate:3:yes" and action.message_id == "8"
    assert action.sender.name == "id5001"
    assert to_action(press | {"payload": {"command": "start"}}, {}, key="ev:y") is None
    assert payload_action('{"a": "take:1"}') == "take:1" and payload_action("not json") is None


# ------------------------------------------------------------------ what the transport sends


def test_keyboards_fit_vk_limits_and_carry_the_action() -> None:
    rows = [[[f"Округ {i}{j}", f"place:1:m{i}{j}"] for j in range(3)] for i in range(7)]  # 21 buttons
    boards = [json.loads(b) for b in keyboards(rows)]
    assert len(boards) == 3
    for board in boards:
        assert board["inline"] is True and len(board["buttons"]) <= 6
        assert sum(map(len, board["buttons"])) <= 10
    actions = [json.loads(b["action"]["payload"])["a"] for board in boards for row in board["buttons"] for b in row]
    assert actions == [a for row in rows for _, a in row]
    wide = json.loads(keyboards([[["x" * 50, f"route:1:a{i}"] for i in range(7)]])[0])
    assert [len(r) for r in wide["buttons"]] == [5, 2]  # a row of 7 is cut at VK's 5
    assert wide["buttons"][0][0]["action"]["label"] == "x" * 39 + "…"
    rate = json.loads(keyboards([[["Решено", "rate:1:yes"], ["Не решено", "rate:1:no"]]])[0])
    assert [b["color"] for b in rate["buttons"][0]] == ["positive", "negative"]
    assert keyboards(None) == [] and keyboards([]) == []


def test_random_ids_are_derived_int32_and_distinct() -> None:
    assert random_id(1, 0) == random_id(1, 0)
    ids = {random_id(row, part) for row in range(1, 200) for part in range(3)}
    assert len(ids) == 199 * 3 and all(0 < i <= 2_147_483_647 for i in ids)
    assert 0 < random_id(10**12, 63) <= 2_147_483_647
    with pytest.raises(PermanentError):
        random_id(1, 64)


def test_html_becomes_plain_text_split_at_lines() -> None:
    assert plain_text("<b>Обращение №1 принято.</b>\nа &lt; б &amp; в") == "Обращение №1 принято.\nа < б & в"
    text = "\n".join(["строка " * 100] * 12)
    pieces = split_text(text)
    assert all(len(p) <= 4096 for p in pieces) and len(pieces) == 3
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    assert split_text("коротко") == ["коротко"]


class _FailingClient:
    group_id = 1

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def call(self, method: str, **params: Any) -> Any:
        raise self.error


def _api_error(code: int) -> ApiError:
    return ApiError(None, "messages.send", {}, False, {"error_code": code, "error_msg": f"code {code}"})


@pytest.mark.parametrize(
    ("error", "kind"),
    [(_api_error(10), TransientError), (_api_error(6), TransientError), (_api_error(9), TransientError),
     (_api_error(901), PermanentError), (_api_error(917), PermanentError), (_api_error(5), PermanentError),
     (requests.ConnectionError("down"), TransientError), (requests.ReadTimeout("slow"), TransientError)],
)
async def test_vk_errors_are_retried_or_given_up(error: Exception, kind: type[Exception]) -> None:
    transport = VkTransport(_FailingClient(error))  # type: ignore[arg-type]
    item = Outgoing(id=1, platform="vk", chat_id="5001", payload={"type": "text", "text": "x"}, appeal_id=None)
    with pytest.raises(kind):
        await transport.deliver(item)


# ------------------------------------------------------------------ the client's session


class _Recorder(BaseAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.seen.append((str(request.url), kwargs.get("timeout")))
        response = requests.Response()
        response.status_code = 200
        response._content = b'{"response": 1}'
        return response

    def close(self) -> None:
        pass


def test_the_session_rebases_vk_api_and_sets_a_timeout() -> None:
    session = RebasedSession("http://127.0.0.1:9/vk/", timeout=3.0)
    recorder = _Recorder()
    session.mount("http://", recorder)
    session.mount("https://", recorder)
    session.post("https://api.vk.ru/method/messages.send", data={"v": "5.199"})
    session.get("https://lp.vk.ru/wh123?act=a_check", timeout=35)
    assert recorder.seen == [("http://127.0.0.1:9/vk/method/messages.send", 3.0),
                             ("https://lp.vk.ru/wh123?act=a_check", 35)]
    assert photo_ref("photo1_2_k", "http://u") == "photo1_2_k http://u"


# ------------------------------------------------------------------ config and environment


def test_vk_section_in_the_config(tmp_path: Path) -> None:
    text = SMALL.read_text(encoding="utf-8")
    path = tmp_path / "config.yaml"
    path.write_text(text + "vk:\n  group_id: 229000001\n", encoding="utf-8")
    config = load_config(path)
    assert config.vk is not None and config.vk.group_id == 229000001
    assert "VK community: 229000001" in config.summary()
    assert load_config(SMALL).vk is None
    assert "no vk.group_id" in load_config(SMALL).summary()  # config_small has a vk_peer

    path.write_text(text + "vk:\n  group_id: '229000001'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"vk\.group_id"):
        load_config(path)
    path.write_text(text + "vk:\n  group_id: -5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"vk\.group_id"):
        load_config(path)
    path.write_text(text + "vk:\n  group: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="group_id"):
        load_config(path)


def test_vk_environment() -> None:
    env = Environment.from_env({"OTKLIK_VK_TOKEN": " vk1.a.secret ", "OTKLIK_VK_API_URL": "http://127.0.0.1:8082/"})
    assert env.vk_token == "vk1.a.secret" and env.vk_api_url == "http://127.0.0.1:8082"
    assert "secret" not in repr(env)
    assert Environment.from_env({}).vk_token is None and Environment.from_env({}).vk_api_url is None
    with pytest.raises(ConfigError, match="OTKLIK_VK_API_URL"):
        Environment.from_env({"OTKLIK_VK_API_URL": "api.vk.ru"})
