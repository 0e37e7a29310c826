"""HTTP routes of the sandbox page: the page itself and the small JSON API it drives the stand-in with."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from bot.standin.telegram import TelegramStandin

PAGE = Path(__file__).with_name("sandbox.html")


def add_sandbox_routes(app: web.Application, standin: TelegramStandin) -> None:
    routes = _SandboxRoutes(standin)
    app.router.add_get("/", routes.page)
    app.router.add_get("/sandbox/api/layout", routes.layout)
    app.router.add_get("/sandbox/api/state", routes.state)
    app.router.add_post("/sandbox/api/send", routes.send)
    app.router.add_post("/sandbox/api/press", routes.press)
    app.router.add_get("/sandbox/file/{file_id}", routes.file)


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


class _SandboxRoutes:
    def __init__(self, standin: TelegramStandin) -> None:
        self.standin = standin

    async def page(self, request: web.Request) -> web.Response:
        # Read on every request so the page can be edited while the sandbox runs.
        return web.Response(text=PAGE.read_text(encoding="utf-8"), content_type="text/html", charset="utf-8")

    async def layout(self, request: web.Request) -> web.Response:
        return web.json_response(self.standin.sandbox_layout())

    async def state(self, request: web.Request) -> web.Response:
        try:
            since = int(request.query.get("since", "-1"))
        except ValueError:
            return _bad("since must be an integer")
        version = await self.standin.wait_version(since, self.standin.state_poll_timeout)
        panes = self.standin.sandbox_layout()["panes"]
        chat_ids = {c["chat_id"] for p in panes if not p.get("platform") for c in p["chats"]}
        chats = {str(cid): [self._view(m) for m in self.standin.chat_log(cid)] for cid in sorted(chat_ids)}
        notices = [
            {"id": qid, "text": a.get("text"), "show_alert": bool(a.get("show_alert"))}
            for qid, a in list(self.standin.callback_answers.items())[-20:]
            if a.get("text")
        ]
        # chats of linked platforms (VK) are keyed "platform:id", as the page asks for them
        for platform, other in self.standin.linked.items():
            for cid in {c["chat_id"] for p in panes if p.get("platform") == platform for c in p["chats"]}:
                chats[f"{platform}:{cid}"] = other.sandbox_view(int(cid))
            notices += other.sandbox_notices()
        return web.json_response({"version": version, "chats": chats, "notices": notices})

    def _view(self, message: dict[str, Any]) -> dict[str, Any]:
        view = dict(message)
        view["is_bot"] = message["from"]["id"] == self.standin.bot_id
        if message.get("photo"):
            view["photo_url"] = f"/sandbox/file/{message['photo'][-1]['file_id']}"
        if message.get("document"):
            view["document_url"] = f"/sandbox/file/{message['document']['file_id']}"
        if message.get("sticker"):
            view["sticker_url"] = f"/sandbox/file/{message['sticker']['file_id']}"
        return view

    async def send(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            chat_id, user_id = int(body["chat_id"]), int(body["user_id"])
            photo: bytes | None = None
            if body.get("photo_base64"):
                photo = base64.b64decode(body["photo_base64"], validate=True)
            location = body.get("location")
            loc = (float(location[0]), float(location[1])) if location else None
            reply_to = int(body["reply_to"]) if body.get("reply_to") else None
            text = body.get("text") or None
            other = self.standin.linked.get(body.get("platform") or "")
            if other is not None:
                sent = other.user_sends(chat_id, user_id, text or "", reply_to=reply_to, photo=photo, location=loc)
                return web.json_response({"message_id": sent["conversation_message_id"]})
            message = self.standin.user_sends(
                chat_id, user_id, text, reply_to=reply_to, photo=photo, location=loc
            )
        except (KeyError, TypeError, ValueError, IndexError, binascii.Error) as err:
            return _bad(str(err))
        return web.json_response(self._view(message))

    async def press(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            other = self.standin.linked.get(body.get("platform") or "")
            if other is not None:
                event_id = other.user_presses(
                    int(body["chat_id"]), int(body["message_id"]), int(body["user_id"]), body.get("data")
                )
                return web.json_response({"event_id": event_id})
            query_id = self.standin.user_presses(
                int(body["chat_id"]), int(body["message_id"]), int(body["user_id"]), body.get("data")
            )
        except (KeyError, TypeError, ValueError) as err:
            return _bad(str(err))
        return web.json_response({"callback_query_id": query_id})

    async def file(self, request: web.Request) -> web.Response:
        found = self.standin.file_bytes(request.match_info["file_id"])
        if found is None:
            raise web.HTTPNotFound()
        data, mime = found
        return web.Response(body=data, content_type=mime)
