"""Every Russian text the bot says, in one place. Texts are Telegram-flavoured HTML; user text is
always passed through `esc` (other platforms strip the tags)."""
from __future__ import annotations

from html import escape

STATUS_NAMES = {
    "draft": "ждём описание",
    "awaiting_place": "уточняем место",
    "triage": "выбираем исполнителя",
    "routed": "передано исполнителю",
    "in_work": "в работе",
    "answered": "дан ответ",
    "reopened": "снова открыто",
    "resolved": "решено",
    "closed": "закрыто",
    "dismissed": "закрыто без ответа: не обращение",
}


RESOLVED_PARTLY = "решено частично"
NO_PLACE_SHORT = "место не указано"

# what the citizen's rating adds to the card's status line
RATING_DETAILS = {"solved": "заявитель: решено ✅", "partly": "заявитель: решено частично 🟡",
                  "not_solved": "заявитель: не решено ⚠️"}


def button_label(name: str, limit: int = 60) -> str:
    """A name on a button: cut at a word with «…» when longer than `limit` (not mid-word, silently)."""
    if len(name) <= limit:
        return name
    cut = name[: limit - 1].rsplit(" ", 1)[0] if " " in name[: limit - 1] else name[: limit - 1]
    return cut.rstrip(" ,.-") + "…"


def esc(text: str) -> str:
    return escape(text, quote=False)


GREETING = (
    "Здравствуйте! Это «Отклик» — бот центра управления регионом.\n\n"
    "Напишите, что случилось и где: яма на дороге, нет горячей воды, не вывозят мусор, "
    "не пришёл автобус. Можно приложить фото и геопозицию. Мы передадим обращение "
    "тем, кто за это отвечает, и пришлём их ответ сюда.\n\n"
    "<b>О персональных данных.</b> Мы храним ваше имя в мессенджере, идентификатор чата, "
    "тексты, фото и геопозицию ваших обращений, чтобы передать их ответственным органам власти "
    "и сообщить вам ответ (Федеральный закон № 152-ФЗ «О персональных данных»). "
    "Данные видят только сотрудники органов, которым направлено обращение, и операторы центра. "
    "Отправляя сообщение, вы соглашаетесь на такую обработку."
)

UNKNOWN_COMMAND = ("Такой команды нет, сообщение не добавлено к обращению. Команды: /new — новое обращение, "
                   "/my — ваши обращения, /forget — удалить ваши данные, /help — подсказка.")
HELP = (
    "Как пользоваться:\n"
    "• опишите проблему и адрес одним сообщением, можно с фото или геопозицией;\n"
    "• пока обращение открыто, новые сообщения добавляются к нему;\n"
    "/new — подать новое, отдельное обращение\n"
    "/my — ваши обращения и их статус\n"
    "/forget — удалить ваши персональные данные"
)

UNSUPPORTED = (
    "Извините, такие сообщения бот пока не принимает ({what}). "
    "Напишите, пожалуйста, текстом; можно приложить фото или геопозицию."
)
UNSUPPORTED_NAMES = {
    "sticker": "стикер",
    "voice": "голосовое сообщение",
    "video_note": "видеосообщение",
    "video": "видео",
    "audio": "аудио",
    "document": "файл",
    "animation": "анимация",
    "contact": "контакт",
    "poll": "опрос",
    "other": "этот тип сообщения",
}

UNSUPPORTED_ATTACHMENT = (
    "Само вложение ({what}) бот исполнителю не передаёт — только текст, фото и геопозицию. "
    "Подпись к нему принята."
)
EDITED = (
    "Изменения в уже отправленных сообщениях не передаются. "
    "Напишите, пожалуйста, уточнение новым сообщением — оно добавится к обращению."
)
EMPTY_TEXT = "Сообщение пустое. Опишите, пожалуйста, проблему и адрес словами."
DRAFT_WAITING = (
    "{what}. Опишите, пожалуйста, проблему и адрес одним сообщением — "
    "после этого обращение будет зарегистрировано."
)


def draft_waiting(photo: bool) -> str:
    """What a draft (a photo or a location before the words) is told; the participle agrees with the noun."""
    return DRAFT_WAITING.format(what="Фото получено" if photo else "Геопозиция получена")
SMALL_TALK = {
    "greeting": ("Здравствуйте! Опишите, пожалуйста, проблему одним сообщением: что случилось и где "
                 "(город или посёлок, улица, дом). Можно приложить фото и геопозицию."),
    "thanks": ("Пожалуйста! Если нужно сообщить о новой проблеме, опишите её одним сообщением: "
               "что случилось и где."),
    "no_words": ("Опишите, пожалуйста, проблему словами: что случилось и где "
                 "(город или посёлок, улица, дом). Можно приложить фото и геопозицию."),
}
NEW_APPEAL_MODE = "Хорошо. Опишите новую проблему и адрес одним сообщением — это будет отдельное обращение."
FOLLOWUP_ADDED = "Добавили к обращению №{number}. Чтобы подать отдельное обращение, отправьте /new."
FOLLOWUP_ADDED_OF_SEVERAL = ("Добавили к обращению №{number} ({topic}) — последнему из ваших открытых. Если это про "
                             "другое обращение, ответьте на сообщение бота о нём; отдельное обращение — /new.")
URGENT_SEPARATE = ("Это похоже на срочную проблему, не на дополнение к обращению №{number}, поэтому мы приняли "
                   "его отдельным обращением.")
ASK_PLACE = ("Уточните, пожалуйста, где это: выберите округ или город ниже, напишите название "
             "или отправьте геопозицию.")
PLACE_CHOSEN = "Спасибо! Место: {place}."
# the citizen chose the place as the appeal was being handed to the operators for want of one
PLACE_PASSED_ON = "Спасибо! Место: {place}. Передали операторам центра вместе с обращением."
PLACE_PRESSED_LATE = "житель выбрал место кнопкой: {place}"
PLACE_STILL_NEEDED = ("Добавили к обращению №{number}. Чтобы передать его исполнителю, уточните, где это: "
                      "напишите город, посёлок или округ, отправьте геопозицию или выберите ниже.")
NO_APPEALS = "У вас пока нет обращений. Опишите проблему одним сообщением — мы передадим её ответственным."
MY_HEADER = "Ваши обращения:"
ALREADY_RATED = "Оценка уже учтена."
# the button an answer keeps after it was rated: the citizen's choice, which pressing only repeats
RATED_BUTTON = {"yes": "✅ Ваша оценка: решено", "part": "🟡 Ваша оценка: решено частично",
                "no": "❌ Ваша оценка: не решено"}
RATED_TOAST = {"yes": "Вы отметили: решено.", "part": "Вы отметили: решено частично.",
               "no": "Вы отметили: не решено. Обращение снова открыто."}
NOT_YOURS = "Это действие недоступно."
STALE_BUTTON = "Эта кнопка уже не действует."
# VK shows at most 10 buttons under a message: the rest of a keyboard follows under this line
VK_MORE_CHOICES = "Ещё варианты:"


def ack(
    number: int,
    category: str | None,
    place: str | None,
    account: str | None,
    deadline: str | None,
    *,
    to_triage: bool = False,
    ask_place: bool = False,
) -> str:
    lines = [f"<b>Обращение №{number} принято.</b>"]
    topic = " · ".join(esc(p) for p in (category, place) if p)
    if topic:
        lines.append(f"Тема: {topic}")
    if account:
        lines.append(f"Передали в: {esc(account)}")
    elif to_triage:
        lines.append("Передали операторам центра: они выберут ответственный орган.")
    if deadline:
        lines.append(f"Ответ придёт сюда {deadline}.")
    if ask_place:
        lines.append("")
        lines.append(ASK_PLACE)
    return "\n".join(lines)


def routed_after_place(number: int, account: str | None, deadline: str | None, topic: str | None = None) -> str:
    # the place question it answers was edited to «Спасибо! Место: …», so this says the topic again
    if account:
        text = f"Обращение №{number} передали в: {esc(account)}."
    else:
        text = f"Обращение №{number} передали операторам центра: они выберут ответственный орган."
    if topic:
        text += f"\nТема: {esc(topic)}"
    if deadline:
        text += f"\nОтвет придёт сюда {deadline}."
    return text


def taken_in_work(number: int, account: str) -> str:
    return f"Обращение №{number} взято в работу: {esc(account)}."


def passed_to_other(number: int) -> str:
    return f"Обращение №{number} передаётся другому исполнителю. Мы сообщим, кому."


def rerouted(number: int, account: str, new_due: str | None = None) -> str:
    """`new_due`: the deadline, described, when the corrected topic moved it."""
    text = f"Обращение №{number} передали в: {esc(account)}."
    return text + f"\nНовый срок ответа: {esc(new_due)}." if new_due else text


def answer_to_citizen(number: int, account: str, text: str) -> str:
    head = f"<b>Ответ по обращению №{number}</b>\nОт: {esc(account)}"
    return f"{head}\n\n{esc(text)}" if text else head


def rate_prompt() -> str:
    return "Проблема решена?"


RATE_SOLVED = "Решено"
RATE_NOT_SOLVED = "Не решено"
THANKS_SOLVED = "Спасибо за оценку! Обращение №{number} закрыто."
REOPENED_TRIAGE_REASON = "житель ответил «Не решено» на ответ операторов"
REOPENED_CITIZEN_OPERATORS = (
    "Обращение №{number} снова открыто и возвращено операторам центра. "
    "Можете дописать подробности — они добавятся к обращению."
)
REOPENED_CITIZEN = (
    "Обращение №{number} снова открыто и возвращено исполнителю. "
    "Можете дописать подробности — они добавятся к обращению."
)


# --- officials' side ---------------------------------------------------------------------------

TAKE = "Взять в работу"
REJECT = "Не наша компетенция"
REJECT_PROMPT = (
    "№{number}: укажите, пожалуйста, причину, по которой обращение не ваше — "
    "<b>ответом на это сообщение</b>. После этого оно уйдёт операторам центра."
)
REJECT_NO_REASON = ("Напишите причину словами — чей это вопрос или почему не ваш (например, «сети Россетей», "
                    "«дорога областная») — ответом на сообщение бота.")
REJECT_REFUSED = "По обращению №{number} отказ уже не принят: статус «{status}»."
ANSWER_NEEDS_WORDS = ("Ответ по обращению №{number} не отправлен: в нём нет слов. Напишите жителю, что сделано "
                      "(фото можно приложить с подписью) — ответом на карточку.")
REOPENED_ACCOUNT = (
    "⚠️ №{number}: заявитель отметил, что проблема <b>не решена</b>. Обращение снова открыто — "
    "ответьте на карточку."
)
FOLLOWUP_FOR_ACCOUNT = "➕ Дополнение к обращению №{number}:"


def refused_before_line(account: str, reason: str) -> str:
    return _refusal("↩️ Ранее отказался", account, reason)


def refusal_line(account: str, reason: str) -> str:
    """A refusal on the triage card: who, and in their words."""
    return _refusal("↩️ Отказался", account, reason)


def _refusal(prefix: str, account: str, reason: str) -> str:
    short = reason if len(reason) <= 200 else reason[:199] + "…"
    return f"{prefix}: {esc(account)}" + (f" — «{esc(short)}»" if short else "")


def continuation_header(number: int, part: int, parts: int) -> str:
    return f"№{number}, продолжение:" if parts == 1 else f"№{number}, продолжение ({part} из {parts}):"

REPLY_TO_CLOSED = "Обращение №{number} уже закрыто, поэтому ваше сообщение мы приняли как новое обращение."
FOLLOWUP_PLACE = "геопозиция заявителя (ниже)"
ANSWER_REFUSED_NOT_MEMBER = "Отвечать на обращения могут только участники чата исполнителя."
ANSWER_REFUSED_ANONYMOUS = "Ответы принимаются только от своего имени, не анонимно и не от имени канала."
ANSWER_REFUSED_OTHER_ACCOUNT = "Обращение №{number} передано другому исполнителю — ответ не отправлен."
ANSWER_REFUSED_CLOSED = "Обращение №{number} уже закрыто — ответ не отправлен."
TOAST_TAKEN = "Взято в работу"
TOAST_REJECT = "Укажите причину ответом на сообщение бота"
TOAST_ROUTED = "Направлено"

# «Спросить жителя» under a triage card: a question to the citizen that leaves the appeal with the operators
ASK_BUTTON = "❓ Спросить жителя"
QUESTION_PROMPT = (
    "№{number}: напишите вопрос жителю <b>ответом на это сообщение</b> — например, адрес или населённый "
    "пункт. Обращение останется в разборе, ответ жителя придёт сюда под карточку."
)
QUESTION_NO_TEXT = "Напишите вопрос словами — ответом на сообщение бота."
QUESTION_REFUSED = "По обращению №{number} вопрос не отправлен: статус «{status}»."
TOAST_NO_CITIZEN = "Заявитель удалил свои данные: написать ему нельзя."
PLACE_FROM_FOLLOWUP = "(место: {place})"


OPERATORS_NAME = "Центр управления регионом"  # who the operators' own words come from, to the citizen


def question_to_citizen(number: int, text: str) -> str:
    return (f"<b>Вопрос по обращению №{number}</b>\nОт: {OPERATORS_NAME}\n\n{esc(text)}\n\n"
            "Ответьте, пожалуйста, на это сообщение — ответ добавится к обращению.")


def question_sent(number: int, operator: str, text: str) -> str:
    short = text if len(text) <= 200 else text[:199] + "…"
    return f"№{number}: вопрос жителю отправлен ({esc(operator)}): «{esc(short)}»"


# «Не обращение» under a triage card: spam, abuse or no question, closed without an account (two presses)
DISMISS_BUTTON = "🚫 Не обращение — закрыть"
DISMISS_REASONS = {"spam": "спам или реклама", "empty": "нет вопроса или проблемы", "abuse": "оскорбления"}
DISMISS_KEEP = "Отмена"
TOAST_DISMISS_CHOOSE = "Выберите причину в сообщении ниже"
TOAST_DISMISSED = "Закрыто без ответа"
TOAST_KEPT = "Оставлено в разборе"


def dismiss_question(number: int) -> str:
    return (f"Закрыть №{number} без ответа, не передавая исполнителю? Житель получит сообщение о закрытии "
            "с выбранной причиной и предложением описать проблему и адрес заново.\nВыберите причину:")


def dismissed_line(number: int, reason: str, by: str) -> str:
    return f"№{number}: закрыто без ответа — {reason} ({esc(by)})."


def dismiss_kept(number: int) -> str:
    return f"№{number} не закрыто: ждёт выбора исполнителя."


# what the citizen is told, by the operator's reason (dismissed_for_citizen)
_DISMISSED_WHY = {
    "spam": "оно похоже на рекламу или рассылку",
    "empty": "в нём нет вопроса или проблемы, которую могут решить органы власти",
    "abuse": "в нём оскорбления, а не описание проблемы",
}


def dismissed_for_citizen(number: int, reason: str) -> str:
    why = _DISMISSED_WHY.get(reason, _DISMISSED_WHY["empty"])
    return (f"Сообщение №{number} закрыто без передачи исполнителю: {why}. Если это ошибка, опишите "
            "проблему и адрес новым сообщением.")

OPEN_EMPTY = "Открытых обращений нет."
CARD_USAGE = "Укажите номер обращения: /card 123 — бот пришлёт его карточку ещё раз, внизу чата."
CARD_USAGE_STATUS = "Укажите номер обращения: /card 123 — бот ответит его статусом, сроком и исполнителем."
CARD_NOT_HERE = "Обращение №{number} не относится к этому чату."
CARD_NOT_FOUND = "Обращения №{number} нет."
OPEN_HEADER = "Открытые обращения ({count}), первыми — с ближайшим сроком:"
TRIAGE_HEADER = "Ждут выбора исполнителя ({count}):"


# Telegram's command menu («/» in the input field), per kind of chat: (command, description)
COMMAND_MENUS = {
    "private": [("start", "Начать и узнать, что бот умеет"), ("new", "Новое обращение"),
                ("my", "Мои обращения"), ("help", "Как написать обращение"),
                ("forget", "Удалить мои данные")],
    "groups": [("open", "Открытые обращения"), ("card", "Карточка обращения ещё раз: /card 123"),
               ("overdue", "Просроченные обращения"), ("help", "Что умеет этот чат")],
    "triage": [("open", "Ждут выбора исполнителя"), ("card", "Карточка обращения: /card 123"),
               ("help", "Что умеет этот чат")],
    "supervisors": [("rating", "Рейтинг исполнителей"), ("problems", "Темы и места жалоб"),
                    ("routing", "Как бот распределял обращения"), ("overdue", "Все просроченные"),
                    ("card", "Где обращение: /card 123"), ("help", "Что умеет этот чат")],
}

# /help in a staff chat: what this chat can do
STAFF_HELP = {
    "account": (
        "Сюда приходят обращения жителей для «{account}».\n"
        "• Ответить жителю — ответьте (reply) на карточку обращения или на его дополнение.\n"
        "• «Взять в работу», «Промежуточный ответ», «Не наша компетенция» — кнопки под карточкой.\n"
        "/open — открытые обращения, первыми — с ближайшим сроком\n"
        "/overdue — просроченные\n"
        "/card N — карточка обращения №N ещё раз, внизу чата"
    ),
    "triage": (
        "Это чат разбора ЦУР: сюда приходят обращения, исполнителя которых бот не определил уверенно.\n"
        "• Выберите исполнителя кнопкой под карточкой — выбор запомнится для обучения бота.\n"
        "• Ответьте (reply) на карточку — ответ уйдёт жителю сразу, без исполнителя.\n"
        "• «❓ Спросить жителя» — вопрос жителю (где это, что именно), обращение остаётся здесь; его ответ "
        "придёт под карточку.\n"
        "• «Не обращение — закрыть» — для спама, оскорблений и сообщений без вопроса: житель получит "
        "уведомление, в рейтинги и аналитику такое не попадёт.\n"
        "/open — обращения, ждущие выбора исполнителя\n"
        "/overdue — просроченные из них (и ждущие, пока житель назовёт место)\n"
        "/card N — карточка обращения №N или где оно сейчас"
    ),
    "supervisors": (
        "Чат руководителей: сюда приходят тревоги о просрочках и сводки.\n"
        "/rating [период] — рейтинг исполнителей\n"
        "/problems [период] — темы и места жалоб\n"
        "/routing [период] — как бот распределял обращения\n"
        "/overdue — все просроченные обращения\n"
        "/card N — где обращение №N сейчас\n"
        "Период: 2026-W47, 2026-11 или 2026-11-01..2026-11-15 (по умолчанию — последние 7 дней)."
    ),
    "escalation": (
        "Сюда приходят тревоги о просроченных обращениях.\n"
        "/overdue — все просроченные обращения\n"
        "/card N — где обращение №N сейчас"
    ),
}


def card_status(line: str, account: str | None) -> str:
    """`/card N` in the triage or supervisors' chat for an appeal that is not waiting there."""
    return f"{line}\nИсполнитель: {esc(account)}" if account else line


def triage_hints(categories: list[tuple[str, float]], places: list[tuple[str, float]]) -> str:
    """The classifier's guesses on a triage card: (name, confidence) of categories and, when the
    place is not certain, of municipalities; the buttons of the accounts they lead to come first."""
    def share(items: list[tuple[str, float]]) -> str:
        return ", ".join(f"{esc(name)} {round(conf * 100)}%" for name, conf in items)

    line = f"🤖 Похоже на: {share(categories)}" if categories else "🤖"
    if places:
        line += f"; место: {share(places)}"
    return line


def card_status_line(status: str, detail: str | None = None) -> str:
    name = STATUS_NAMES.get(status, status)
    return f"Статус: <b>{esc(name)}</b>" + (f" — {esc(detail)}" if detail else "")


# --- deadlines: intermediate answers, reminders, escalation, supervisors ---------------------------

INTERIM = "Промежуточный ответ"
INTERIM_PROMPT = (
    "№{number}: напишите заявителю промежуточный ответ — что уже сделано и когда ждать результата — "
    "<b>ответом на это сообщение</b>. Окончательный ответ после этого будет нужен {deadline} (срок считается от вашего промежуточного ответа)."
)
INTERIM_NO_TEXT = "Напишите промежуточный ответ словами — ответом на сообщение бота."
INTERIM_REFUSED = "По обращению №{number} промежуточный ответ уже не нужен: статус «{status}»."
TOAST_INTERIM = "Напишите ответ на сообщение бота"

TERM_NAMES = {"first_answer": "первого ответа", "resolution": "окончательного ответа"}


def interim_to_citizen(number: int, account: str, text: str, deadline: str | None) -> str:
    lines = [f"<b>Промежуточный ответ по обращению №{number}</b>", f"От: {esc(account)}", "", esc(text)]
    if deadline:
        lines += ["", f"Окончательный ответ придёт сюда {deadline}."]
    return "\n".join(lines)


def interim_card_detail(official: str, deadline: str | None) -> str:
    detail = f"промежуточный ответ отправлен ({official})"
    return f"{detail}; окончательный {deadline}" if deadline else detail


def card_due_line(term: str | None, deadline: str, *, past: bool = False, extended: bool = False) -> str:
    # a card posted (or edited) after its term says so: a plain «Ответить до 18:35» that already
    # passed reads as time still left
    line = f"⏰ Окончательный ответ {deadline}" if term == "resolution" else f"⏰ Ответить {deadline}"
    if extended:  # the account got it late: the time in triage (or waiting for the place) is added
        line += " (срок продлён на время разбора в ЦУР)"
    return f"{line} — срок истёк" if past else line


def span_words(delta_seconds: float) -> str:
    """«45 с», «12 мин», «2 ч 5 мин», «3 дн 4 ч»: how late, short enough for a phone line."""
    total = max(0, int(delta_seconds))
    if total == 0:
        return "менее 1 с"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} дн {hours} ч" if hours else f"{days} дн"
    if hours:
        return f"{hours} ч {minutes} мин" if minutes else f"{hours} ч"
    if minutes:
        return f"{minutes} мин {seconds} с" if seconds and minutes < 10 else f"{minutes} мин"
    return f"{seconds} с"


# an appeal still waiting for the citizen to name the place has no card in the triage chat yet
TRIAGE_TITLE_OPEN = "🧭 <b>Нужен исполнитель</b>"
TRIAGE_TITLE_DONE = "✅ <b>Разобрано</b>"
NO_PLACE_TRIAGE_REASON = "житель не указал место за {wait}"
NO_PLACE_CITIZEN = (
    "Место по обращению №{number} пока не указано, поэтому мы передали его операторам центра: они "
    "определят, кому его направить. Если можете, напишите адрес или населённый пункт ответным сообщением."
)
AWAITING_PLACE_ALERT = "Карточки пока нет: житель ещё не указал место, бот спросил его кнопками."


def _reply_how(card: bool) -> str:
    return "ответом на карточку или на это сообщение" if card else "ответом на это сообщение"


def sla_reminder(number: int, term: str, percent: int, deadline: str, *, card: bool = True) -> str:
    how = _reply_how(card)
    text = (
        f"⏰ Напоминание: №{number} — прошло {percent}% срока {TERM_NAMES.get(term, '')}.\n"
        f"Ответить нужно {deadline} — {how}."
    )
    return text if card else f"{text}\n{AWAITING_PLACE_ALERT}"


def sla_overdue_account(number: int, term: str, late_seconds: float, supervisors_told: bool, *,
                        card: bool = True) -> str:
    # the sweep runs every minute or so: a lateness under a minute is news of "just now", not a count
    when = "только что" if late_seconds < 60 else f"{span_words(late_seconds)} назад"
    how = _reply_how(card)
    lines = [
        f"🔴 №{number} просрочено: срок {TERM_NAMES.get(term, '')} истёк {when}.",
        f"Ответьте заявителю как можно скорее — {how}.",
    ]
    if not card:
        lines.append(AWAITING_PLACE_ALERT)
    if supervisors_told:
        lines.append("Кураторы центра уведомлены.")
    return "\n".join(lines)


def sla_supervisors(
    number: int,
    term: str,
    percent: int,
    *,
    first_overdue: bool,
    account: str | None,
    topic: str,
    due: str,
    late: str | None,
) -> str:
    if late is None:
        head = f"⚠️ №{number}: прошло {percent}% срока {TERM_NAMES.get(term, '')}, ответа нет"
    elif first_overdue:
        head = f"🔴 Просрочено: №{number} (срок {TERM_NAMES.get(term, '')})"
    else:
        head = f"🚨 Эскалация: №{number} — прошло {percent}% срока {TERM_NAMES.get(term, '')}, ответа нет"
    who = esc(account) if account else "не выбран — обращение у операторов ЦУР"
    lines = [head, f"Исполнитель: {who}", f"Тема: {esc(topic)}", f"Срок: {due}"]
    if late is not None:
        lines[-1] += f", просрочка {late}"
    return "\n".join(lines)


def sla_overdue_citizen(number: int, term: str, *, has_account: bool = True, place_asked: bool = False) -> str:
    what = "окончательного ответа" if term == "resolution" else "ответа"
    if place_asked:
        # the bot still waits for the citizen to say where it is: that is what would move it
        return (f"Срок {what} по обращению №{number} истёк, а передать его исполнителю мы не можем: не знаем, "
                "где это. Напишите город, посёлок или округ, отправьте геопозицию или выберите место кнопкой выше.")
    # with no account chosen yet there is no one to remind: the operators have it
    who = "исполнителю" if has_account else "операторам центра"
    return (
        f"Срок {what} по обращению №{number} истёк. Мы напомнили {who} "
        "и передали обращение на контроль кураторам центра."
    )


def sla_escalated_citizen(number: int, *, reopened: bool = False, term: str = "first_answer") -> str:
    # after «Не решено» (or an intermediate answer) it did get an answer: it waits for a new, or the final, one
    if reopened:
        return (f"По обращению №{number} после вашей оценки «Не решено» нового ответа пока нет. Мы снова "
                "сообщили о нём руководству — ответ на контроле.")
    if term == "resolution":
        return (f"По обращению №{number} окончательного ответа всё ещё нет. Мы снова сообщили о нём руководству — "
                "ответ на контроле.")
    return f"Обращение №{number} всё ещё без ответа. Мы снова сообщили о нём руководству — ответ на контроле."


OVERDUE_EMPTY = "Просроченных обращений нет."
CARD_REPOSTED = "↓ Карточка повторена ниже (/card) — кнопки и статус там."
OPEN_IN_SUPERVISORS = ("В чате кураторов: /overdue — просроченные обращения, /card N — где обращение №N, "
                       "/rating, /problems, /routing — рейтинг, темы и маршрутизация. Списки открытых обращений — "
                       "/open в чатах исполнителей и ЦУР.")
OVERDUE_HEADER = "Просрочено сейчас ({count}), первыми — самые давние:"
OVERDUE_NO_ACCOUNT = "ЦУР (исполнитель не выбран)"


def overdue_line(number: int, account: str, late: str, category: str) -> str:
    return f"№{number} · {esc(account)} · просрочка {late} · {esc(category)}"


def digest(when: str, rows: list[tuple[str, int, int, int]]) -> str:
    """rows: (account name, new, answered, overdue) for every account with something to report."""
    lines = [f"📊 <b>Сводка за сутки</b> на {when}"]
    if not rows:
        lines.append("Новых, отвеченных и просроченных обращений нет.")
        return "\n".join(lines)
    for name, new, answered, overdue in rows:
        mark = " 🔴" if overdue else ""
        lines.append(f"• {esc(name)}: новых {new}, отвечено {answered}, просрочено {overdue}{mark}")
    totals = [sum(r[i] for r in rows) for i in (1, 2, 3)]
    lines.append(f"Всего: новых {totals[0]}, отвечено {totals[1]}, просрочено {totals[2]}")
    return "\n".join(lines)


# --- supervision: ratings, answer quality, problems, reports -------------------------------------------

RATE_PARTLY = "Частично"
THANKS_PARTLY = (
    "Спасибо за оценку! Обращение №{number} закрыто как решённое частично. "
    "Если осталось что-то ещё, напишите новое обращение: /new"
)
PARTLY_ACCOUNT = "🟡 №{number}: заявитель отметил, что проблема решена <b>частично</b>."

QUALITY_SEND_ANYWAY = "Отправить как есть"
QUALITY_REWRITE = "Переписать"
QUALITY_REASONS = {
    "redirect": "заявителя отправляют в другую организацию, а сами ничего не делают",
    "no_action": "не видно, что сделано или что и когда будет сделано, кто отвечает",
    "boilerplate": "общие фразы вместо дела («примем меры», «на контроле», «в установленном порядке»)",
    "law": "в основном ссылки на законы и нормы",
}
QUALITY_REASON_SHORT = {
    "redirect": "переадресация", "no_action": "нет конкретики", "boilerplate": "шаблонные фразы",
    "law": "ссылки на нормы",
}
QUALITY_OUTCOMES = {"sent": "отправлен как есть", "rewritten": "переписан", "pending": "ждёт решения"}
CARD_HELD = "ответ задержан: похоже на отписку"
CARD_FLAGGED_LINE = "⚠️ Ответ отправлен с пометкой «возможная отписка»"
TOAST_SENT_ANYWAY = "Ответ отправлен заявителю"
TOAST_REWRITE = "Напишите новый ответ"


def quality_hold(number: int, reasons: list[str] | tuple[str, ...]) -> str:
    lines = [f"⏸ №{number}: ответ <b>пока не отправлен</b> — похоже на отписку.", "Почему:"]
    lines += [f"• {QUALITY_REASONS.get(r, r)}" for r in reasons]
    lines += [
        "",
        "Хороший ответ говорит, что сделано, или что и когда будет сделано и кто отвечает.",
        "Отправить как есть или переписать? Новый ответ — ответом на карточку или на это сообщение.",
    ]
    return "\n".join(lines)


def quality_sent_anyway(number: int, official: str) -> str:
    return f"№{number}: ответ отправлен как есть ({esc(official)}) и помечен как возможная отписка."


def quality_rewrite(number: int) -> str:
    return (
        f"✏️ №{number}: прежний ответ не отправлен. Напишите новый — "
        "<b>ответом на карточку или на это сообщение</b>."
    )


def duplicate_notice(number: int, lead: int) -> str:
    return (
        f"🔗 №{number} похоже на №{lead}: та же тема и то же место, подано вскоре после него.\n"
        "Достаточно одного ответа — его получат все заявители группы."
    )


def duplicate_card_line(lead: int) -> str:
    return f"🔗 В группе с №{lead}: ответ получат все заявители группы"


def group_answer_detail(source: int) -> str:
    return f"ответ по №{source} отправлен и этому заявителю"


def spike_alert(
    municipality: str, category: str, count: int, window_minutes: int, rate: float, p_value: float,
    appeal_ids: tuple[int, ...],
) -> str:
    window = f"{window_minutes // 60} ч" if window_minutes % 60 == 0 else f"{window_minutes} мин"
    numbers = ", ".join(f"№{i}" for i in appeal_ids[:20]) + (" …" if len(appeal_ids) > 20 else "")
    return (
        f"🚨 <b>Всплеск: возможно, массовая проблема</b>\n"
        f"{esc(category)} · {esc(municipality)}\n"
        f"{count} обращений за {window}; обычно {rate:.2f} за {window} "
        f"(вероятность случайно: {p_value:.1e}).\n"
        f"Обращения: {numbers}"
    )


# charts and reports
CHART_RATING_TITLE = "Рейтинг исполнителей · {period}"
CHART_RATING_XLABEL = "Сводная оценка, 0–100 (сглажена к среднему по региону)"
CHART_PROBLEMS_TITLE = "Главные темы обращений · {period}"
CHART_PROBLEMS_XLABEL = "Обращений за период (в скобках — прошлый период)"
CHART_FEW_DATA = "мало данных"
CHART_FEW_DATA_NOTE = "Мало данных: {count} обращ. за период — выводы делать рано"
CHART_UNRANKED_NOTE = "серые — меньше {min_sample} обращений, без места в рейтинге"
CHART_NO_DATA = "Нет обращений за период"
CHART_REGION_MEAN = "в среднем по региону {score:.0f}"

RATING_EMPTY = "За {period} обращений нет."
COMMAND_ONLY_SUPERVISORS = "Эта команда работает только в чате кураторов."


def rating_caption(period: str, rows: list[tuple[int | None, str, float, int, float | None]],
                   unranked: int | list[str]) -> str:
    """rows: (rank, name, score, volume, change) of the ranked, best first; unranked: the names of the
    accounts with too few appeals to rank (or just their count)."""
    lines = [f"📈 <b>Рейтинг</b> · {esc(period)}"]
    for rank, name, score, volume, change in rows[:10]:
        delta = "" if change is None else f" ({change:+.0f})"
        lines.append(f"{rank}. {esc(name)} — {score:.0f}{delta}, обращений {volume}")
    if isinstance(unranked, list) and unranked:
        shown = ", ".join(esc(n) for n in unranked[:10]) + (f" и ещё {len(unranked) - 10}" if len(unranked) > 10 else "")
        lines.append(f"Вне рейтинга (мало данных): {shown}")
    elif unranked:
        lines.append(f"Вне рейтинга (мало данных): {unranked}")
    return "\n".join(lines)


def problems_caption(period: str, rows: list[tuple[str, int, int]]) -> str:
    """rows: (category name, count, previous count), biggest first."""
    lines = [f"🧩 <b>Главные темы</b> · {esc(period)}"]
    for name, count, previous in rows[:8]:
        lines.append(f"• {esc(name)}: {count} (было {previous})")
    return "\n".join(lines)


def weekly_caption(period: str) -> str:
    return f"🗓 <b>Еженедельный отчёт</b> · {esc(period)}: рейтинг, темы, просрочки и отписки — в файле."

REPORT_REGION = "Вся область"
REPORT_LATE = "ответ с опозданием"
REPORT_NO_ANSWER = "нет ответа, срок прошёл"
REPORT_LATE_BEFORE_ACCOUNT = "срок прошёл до передачи исполнителю; свой срок исполнитель соблюдает"


def backlog_notice(waiting: int, per_minute: int | None, minutes: int | None) -> str:
    # the queue holds cards, follow-ups, edits and erasures alike: count them as the bot's messages
    text = f"⏳ Для этого чата в очереди {waiting} сообщ. бота (карточки, дополнения, правки)."
    if per_minute:
        text += f" Telegram пропускает в группу не больше {per_minute} сообщений в минуту"
        text += f" — всё придёт примерно за {minutes} мин." if minutes else "."
    return text + " Список открытых обращений: /open"
PERIOD_ERROR = ("Не понял период «{given}». Период пишется как неделя (2026-W47), месяц (2026-11) или "
                "даты через две точки (2026-11-01..2026-11-15), например: /{command} 2026-W47")
PERIOD_REVERSED = ("Период «{given}» заканчивается раньше, чем начинается: сначала первая дата, потом последняя, "
                   "например: /{command} 2026-11-01..2026-11-15")


# --- invite codes: binding an officials' group to an account ------------------------------------

INVITE_BOUND = (
    "✅ Чат подключён к «{account}». Сюда будут приходить обращения жителей. "
    "Чтобы ответить, ответьте (reply) на карточку обращения; /open — открытые обращения, "
    "/card N — карточка обращения №N ещё раз."
)
INVITE_ALREADY = "Этот чат уже подключён к «{account}». Код не израсходован."
INVITE_CHAT_TAKEN = "Этот чат уже используется ботом для другой роли — код не применён."
INVITE_UNKNOWN = "Код приглашения не найден. Попросите у администратора ЦУР новую ссылку."
INVITE_EXPIRED = "Срок действия кода приглашения истёк. Попросите у администратора ЦУР новую ссылку."
INVITE_USED = "Этот код приглашения уже использован. Попросите у администратора ЦУР новую ссылку."
INVITE_NO_ACCOUNT = "Исполнитель из приглашения больше не обслуживается. Обратитесь к администратору ЦУР."

# --- personal data: a citizen erases what the bot keeps about them ------------------------------

FORGOTTEN_TEXT = "[удалено по просьбе заявителя]"
FORGET_PROMPT = (
    "Удалить ваши данные? Мы сотрём ваше имя, идентификаторы, тексты, фото и геопозиции ваших "
    "обращений. В статистике останутся только обезличенные сведения: тема, район, исполнитель, "
    "даты и оценка. Ответы по открытым обращениям больше не придут. Отменить удаление нельзя."
)
FORGET_CONFIRM = "Да, удалить мои данные"
FORGET_CANCEL = "Отмена"
FORGET_DONE = "Ваши данные удалены. Новое сообщение станет новым обращением."
FORGET_CANCELLED = "Хорошо, ничего не удаляем."
FORGET_PROMPT_CANCELLED = "Удаление данных отменено: ваши обращения и данные остались. Удалить их — /forget."
FORGET_NOTHING = "У нас нет ваших данных."
FORGOTTEN_PART = "№{number}: заявитель удалил свои персональные данные, сообщение стёрто."
ANSWER_TO_FORGOTTEN = ("По обращению №{number} ответ сохранён, но не отправлен: заявитель удалил свои персональные "
                       "данные, написать ему некому. Обращение закрыто как отвеченное.")
FORGOTTEN_CARD = "<b>№{number}</b>\nЗаявитель удалил свои персональные данные; текст обращения стёрт, ответ не нужен."


# flood control (routing/flood.py): one notice per flood, and one list for the officials after it
def flood_notice(limit: int, seconds: float, number: int | None) -> str:
    window = "минуту" if seconds == 60 else f"{seconds:g} с"
    text = f"Вы отправляете слишком много сообщений подряд — больше {limit} за {window}. "
    if number is None:
        return text + "Пока бот не отвечает на каждое сообщение; подождите, пожалуйста, минуту."
    return text + (
        f"Всё, что вы присылаете, сохраняется в обращении №{number}, но бот не будет отвечать на каждое "
        "сообщение и пересылать их исполнителю по одному: исполнитель получит их одним списком вместе "
        "с вашим следующим сообщением. Напишите его, пожалуйста, через минуту."
    )


FLOOD_DIGEST_FOR_ACCOUNT = "📎 <b>Дополнения к обращению №{number}</b>, присланные подряд ({count}):"
FLOOD_DIGEST_NO_TEXT = "(без текста)"


def _delivery_error(error: str) -> str:
    """A platform's refusal, in words an official or an operator acts on (the raw error follows; plain text)."""
    low = error.lower()
    if "blocked" in low or "error 901" in low:  # VK 901: the user does not allow the community's messages
        why = "бот заблокирован получателем"
    elif any(sign in low for sign in ("kicked", "not a member", "chat not found", "migrated", "error 917")):
        why = "бота нет в чате (удалён из группы, чат удалён или перенесён)"
    else:
        why = "платформа отказала в доставке"
    return f"{why} — {error[:200]}"


def card_undeliverable(account_name: str, error: str) -> str:
    """The triage card's reason (plain text: the card escapes it) when an account's chat could not take the card."""
    return (f"карточка не доставлена в чат «{account_name}»: {_delivery_error(error)}. "
            "Выберите исполнителя (или проверьте чат и направьте снова)")


def answer_undeliverable(number: int, error: str) -> str:
    return (f"⚠️ №{number}: ответ <b>не доставлен</b> заявителю: {esc(_delivery_error(error))}. "
            "Свяжитесь с заявителем другим способом, если это возможно.")


def triage_card_undeliverable(number: int, error: str) -> str:
    return (f"⚠️ №{number} ждёт исполнителя, но его карточка <b>не доставлена</b> в чат разбора (ЦУР): "
            f"{esc(_delivery_error(error))}. Верните бота в чат разбора: там /open покажет очередь.")


def _by(who: str | None) -> str:
    return f" (удалил: {esc(who)})" if who else ""


def bot_removed_from_account(account_name: str, account_code: str, who: str | None, waiting: int) -> str:
    return (f"⚠️ Бота удалили из чата «{esc(account_name)}»{_by(who)}. Новые обращения туда не дойдут: их "
            f"карточки вернутся сюда, на разбор. Открытых обращений у исполнителя: {waiting}. Верните бота в чат "
            f"или привяжите другой: <code>otklik invite {esc(account_code)}</code>.")


def bot_removed_from_staff(kind: str, who: str | None) -> str:
    name = "разбора обращений (ЦУР)" if kind == "triage" else "руководителей"
    return f"⚠️ Бота удалили из чата {name}{_by(who)}: сообщения туда не доходят. Верните бота в чат."
