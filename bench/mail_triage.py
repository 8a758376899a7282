"""Mail triage: does os1 sort an inbox the way its owner would?

    python bench/mail_triage.py [--inbox bench/data/mail_inbox.json] [--model default|fast|PATH]
                                [--limit N] [--write docs/benchmarks.md]

A real Dovecot (the tests' server starter, tests/mail_server.py) is seeded over IMAP with the
200 labelled messages of bench/data/mail_inbox.json (made by bench/data/make_inbox.py; each
label is what a person would want, written before and apart from the code). os1's own triage
(`MailSkill.triage`: list-header rules, then the chat model on the rest) reads the newest
``--limit`` of them through its IMAP client. Reported: agreement with the labels (accuracy,
per-class precision and recall, the confusion matrix), how many the rules decided, the hostile
mails flagged ``suspicious`` (and ordinary mails flagged by mistake), and the time per message
(IMAP read plus model) on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the real test servers, not a copy of them

from mail_server import start_dovecot  # noqa: E402
from os1.config import Settings  # noqa: E402
from os1.llm.select import open_chat_model, prepare_model_file  # noqa: E402
from os1.skills.actions import ActionContext  # noqa: E402
from os1.skills.mail.account import MailAccount, save_account  # noqa: E402
from os1.skills.mail.credentials import Password, save_password  # noqa: E402
from os1.skills.mail.skill import MailSkill  # noqa: E402
from os1.skills.mail.triage import CATEGORIES  # noqa: E402
from os1.store.encryption import DatabaseKey  # noqa: E402
from os1.store.sqlite import SQLiteStore  # noqa: E402
from report import machine, write_section  # noqa: E402


def as_email(item: dict[str, Any]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = item["sender"]
    message["To"] = "alex@example.com"
    message["Subject"] = item["subject"]
    message["Date"] = format_datetime(datetime.fromisoformat(item["date"]))
    message["Message-ID"] = f"<bench-{item['id']}@os1.example>"
    for name, value in item.get("headers", {}).items():
        message[name] = value
    message.set_content(item["body"])
    if item.get("html"):
        message.add_alternative(item["html"], subtype="html")
    return message


async def run(items: list[dict[str, Any]], model_name: str, limit: int) -> dict[str, Any]:
    server = start_dovecot()
    data = Path(tempfile.mkdtemp(prefix="os1-bench-mail-"))
    try:
        user_name = "bench"
        password = server.add_user(user_name)
        for item in sorted(items, key=lambda i: i["date"]):  # delivered oldest first
            server.append(user_name, as_email(item))
        settings = Settings(data_dir=data, model=model_name, seed=7)
        model_file = prepare_model_file(settings)
        model = open_chat_model(settings, model_file)
        # Encrypted: with no OS keyring here, the only place os1 keeps a mail password.
        store = SQLiteStore(settings.database_path,
                            key=DatabaseKey.from_passphrase(secrets.token_hex(16)))
        user = store.user(settings.user_name)
        account = MailAccount("alex@example.com", server.host, server.port, user_name,
                              "plain")
        store.run(lambda db: save_account(db, user, account, datetime.now().astimezone()))
        save_password(store, user, Password(password))
        skill = MailSkill(store, settings, model)
        context = ActionContext(user, datetime.now().astimezone(), "command",
                                progress=lambda text: print(text, end="\r", file=sys.stderr))
        started = time.perf_counter()
        triaged = await skill.triage(context, limit)
        elapsed = time.perf_counter() - started
        await model.aclose()
        store.close()
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    by_id = {f"<bench-{i['id']}@os1.example>": i for i in items}
    rows = []
    for entry in triaged:
        item = by_id[entry.message.message_id]
        rows.append({"id": item["id"], "kind": item["kind"], "expected": item["label"],
                     "got": entry.label.category, "source": entry.label.source,
                     "reason": entry.label.reason, "suspicious_expected": item["suspicious"],
                     "suspicious": entry.label.suspicious})
    return {"model": model_file.name if model_file else model_name, "messages": len(rows),
            "seconds": elapsed, "rows": rows}


def scores(result: dict[str, Any]) -> dict[str, Any]:
    rows = result["rows"]
    pairs = Counter((r["expected"], r["got"]) for r in rows)
    per_class = {}
    for category in CATEGORIES:
        true = pairs[(category, category)]
        predicted = sum(v for (_, got), v in pairs.items() if got == category)
        actual = sum(v for (expected, _), v in pairs.items() if expected == category)
        per_class[category] = {
            "precision": true / predicted if predicted else None,
            "recall": true / actual if actual else None, "support": actual}
    hostile = [r for r in rows if r["suspicious_expected"]]
    return {
        "accuracy": sum(r["expected"] == r["got"] for r in rows) / len(rows) if rows else 0.0,
        "per_class": per_class,
        "confusion": {e: {g: pairs[(e, g)] for g in CATEGORIES} for e in CATEGORIES},
        "by_rule": sum(r["source"] == "rule" for r in rows),
        "model_failed": sum(r["source"] == "fallback" for r in rows),
        "hostile_flagged": f"{sum(r['suspicious'] for r in hostile)} of {len(hostile)}",
        "false_flags": sum(r["suspicious"] and not r["suspicious_expected"] for r in rows),
        "seconds_per_message": result["seconds"] / len(rows) if rows else 0.0,
    }


def markdown(result: dict[str, Any], score: dict[str, Any], command: str) -> str:
    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}"

    lines = [
        f"### Mail triage — {result['model']}", "",
        f"`{command}` on {machine()}, {datetime.now():%Y-%m-%d}.", "",
        f"{result['messages']} messages; accuracy **{score['accuracy']:.3f}**; "
        f"{score['by_rule']} sorted by list-header rules, the rest by the model "
        f"({score['model_failed']} unanswered); {score['seconds_per_message']:.2f} s per "
        f"message (IMAP and model); hostile mails flagged suspicious: "
        f"{score['hostile_flagged']}, ordinary mails flagged by mistake: {score['false_flags']}.",
        "", "| class | precision | recall | messages |", "|---|---|---|---|"]
    for category, values in score["per_class"].items():
        lines.append(f"| {category} | {pct(values['precision'])} | {pct(values['recall'])} | "
                     f"{values['support']} |")
    lines += ["", "Confusion (rows: the person's label, columns: os1's):", "",
              "| | " + " | ".join(CATEGORIES) + " |", "|---" * (len(CATEGORIES) + 1) + "|"]
    for expected, got in score["confusion"].items():
        lines.append(f"| {expected} | " + " | ".join(str(got[c]) for c in CATEGORIES) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inbox", type=Path, default=HERE / "data/mail_inbox.json")
    parser.add_argument("--model", default="default", help="default, fast or a .gguf path")
    parser.add_argument("--limit", type=int, default=200, help="the newest N messages")
    parser.add_argument("--write", type=Path, help="update this file's mail-triage section")
    parser.add_argument("--json", type=Path, help="also write every message's result here")
    args = parser.parse_args()
    items = json.loads(args.inbox.read_text(encoding="utf-8"))
    result = asyncio.run(run(items, args.model, args.limit))
    score = scores(result)
    print(json.dumps(score, indent=1))
    if args.json:
        args.json.write_text(json.dumps({**result, "scores": score}, indent=1))
    if args.write:
        command = "python " + " ".join(sys.argv)
        write_section(args.write, "mail-triage", Path(result["model"]).stem,
                      markdown(result, score, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
