"""`fabula user`, `fabula feedback`, `fabula catalog` and `fabula recommend`: personalization."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from fabula.cli.render import notice
from fabula.errors import Rejected
from fabula.settings import get_settings


def _profiles() -> Any:
    from fabula.personalize.profiles import ProfileStore

    return ProfileStore(get_settings().db_url)


def _prefs(genres: str | None, tone: str | None, length: str | None, language: str | None) -> dict[str, Any]:
    given = {"genres": genres, "tone": tone, "length": length, "language": language}
    return {k: v for k, v in given.items() if v is not None}


PREF_OPTIONS = [
    click.option("--genres", help="Comma-separated, e.g. fantasy,mystery."),
    click.option("--tone", help="e.g. warm, eerie, dry wit."),
    click.option("--length", help="short | medium | long."),
    click.option("--language", help="en | zh."),
]


def _with_prefs(command: Any) -> Any:
    for option in reversed(PREF_OPTIONS):
        command = option(command)
    return command


@click.group()
def user() -> None:
    """Users and their stated preferences (the history comes from `fabula feedback`)."""


@user.command("add")
@click.argument("user_id")
@_with_prefs
def user_add(user_id: str, genres: str | None, tone: str | None, length: str | None, language: str | None) -> None:
    created = _profiles().add_user(user_id, _prefs(genres, tone, length, language))
    click.echo(json.dumps(created))


@user.command("set")
@click.argument("user_id")
@_with_prefs
def user_set(user_id: str, genres: str | None, tone: str | None, length: str | None, language: str | None) -> None:
    click.echo(json.dumps(_profiles().set_preferences(user_id, _prefs(genres, tone, length, language))))


@user.command("show")
@click.argument("user_id")
def user_show(user_id: str) -> None:
    store = _profiles()
    info = store.user(user_id)
    events = store.history(user_id)
    info["history"] = [
        {"kind": e.kind, "item": e.item_id, "value": e.value, "at": e.created_at.isoformat()} for e in events[-50:]
    ]
    click.echo(json.dumps(info, ensure_ascii=False, indent=1))


@user.group("key")
def key() -> None:
    """API keys: once the first exists, the HTTP API asks every request for one."""


@key.command("create")
@click.argument("user_id")
@click.option("--label", default="default", show_default=True)
def key_create(user_id: str, label: str) -> None:
    """Create a key for USER_ID and print it (only now: it is stored as a hash)."""
    from fabula.store.users import create_key

    click.echo(create_key(_profiles().engine, user_id, label))
    notice("keep it secret; the server now requires a key on every /v1 and /api request")


@user.command("password")
@click.argument("user_id")
@click.password_option(help="At least 10 characters (asked twice when not given).")
def user_password(user_id: str, password: str) -> None:
    """Set the password USER_ID signs in to the web studio with (stored with scrypt)."""
    from fabula.store.users import set_password

    ended = set_password(_profiles().engine, user_id, password)
    notice(f"password set for {user_id}; {ended} signed-in session(s) ended")


@key.command("list")
@click.argument("user_id")
def key_list(user_id: str) -> None:
    """USER_ID's keys and sessions: id (to revoke by), label, when made, when a session expires."""
    from fabula.store.users import list_keys

    for k in list_keys(_profiles().engine, user_id):
        click.echo(f"{k['id']}  {k['label']:<12} made {k['created_at']}  expires {k['expires_at'] or 'never'}")


@key.command("revoke")
@click.argument("user_id")
@click.argument("key_id", required=False)
@click.option("--all", "every", is_flag=True, help="Revoke every key and session of USER_ID.")
@click.option("--sessions", is_flag=True, help="Revoke only USER_ID's sign-in sessions.")
def key_revoke(user_id: str, key_id: str | None, every: bool, sessions: bool) -> None:
    """Revoke KEY_ID (from `fabula user key list`), or all of USER_ID's keys with --all."""
    from fabula.store.users import revoke_keys

    if key_id is None and not (every or sessions):
        raise click.UsageError("name a KEY_ID from `fabula user key list`, or give --all or --sessions")
    if key_id is not None and (every or sessions):
        raise click.UsageError("give a KEY_ID or --all/--sessions, not both")
    count = revoke_keys(_profiles().engine, user_id, key_id, sessions_only=sessions)
    notice(f"revoked {count} key(s) of {user_id}")


@user.command("audit")
@click.option("--user", "user_id", help="Only the events of this name.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def user_audit(user_id: str | None, limit: int, as_json: bool) -> None:
    """The audit log: sign-ins, failures, throttling, sign-outs, keys made and revoked, password changes."""
    from fabula.store.users import audit_events

    for event in audit_events(_profiles().engine, user_id, limit):
        if as_json:
            click.echo(json.dumps(event, ensure_ascii=False))
        else:
            rest = {k: v for k, v in event.items() if k not in ("at", "event", "user", "address")}
            extra = " ".join(f"{k}={v}" for k, v in rest.items())
            click.echo(
                f"{event['at']}  {event['event']:<16} {event['user'] or '-':<16} {event['address'] or '-':<15} {extra}"
            )


@user.command("list")
def user_list() -> None:
    for user_id in _profiles().user_ids():
        click.echo(user_id)


@click.command("feedback")
@click.argument("user_id")
@click.argument("item_id")
@click.option(
    "--kind",
    type=click.Choice(["view", "rate", "like", "accept", "reject", "edit"]),
    required=True,
    help="What the user did with the item (or with a generated work: accept, reject, edit).",
)
@click.option("--value", type=float, help="The rating (1-5) for --kind rate.")
@click.option("--text-file", type=click.File("r", encoding="utf-8"), help="The edited text for --kind edit.")
def feedback(user_id: str, item_id: str, kind: str, value: float | None, text_file: Any) -> None:
    """Record what USER_ID did with ITEM_ID; the next recommendation and generation see it."""
    event = _profiles().record(user_id, kind, item_id, value, text_file.read() if text_file else None)
    notice(f"recorded {event.kind} of {event.item_id} by {event.user_id} (weight {event.weight:+.1f})")


@click.group()
def catalog() -> None:
    """The items recommended: articles, movies, works, products."""


@catalog.command("import")
@click.argument("source")
def catalog_import(source: str) -> None:
    """SOURCE: ml-100k (the movies), reuters (70 news articles), works (saved works), or a JSONL
    file of {id, kind, title, text, tags} objects."""
    from fabula.errors import InvalidParam

    settings = get_settings()
    rows: list[dict[str, Any]]
    if source == "ml-100k":
        from fabula.data.movielens import load_movielens

        data = load_movielens(settings.ensure_home() / "data" / "ml-100k")
        rows = [
            {"id": f"ml:{i + 1}", "kind": "movie", "title": t, "text": "", "tags": g}
            for i, (t, g) in enumerate(zip(data.titles, data.genres, strict=True))
        ]
    elif source == "reuters":
        from fabula.data.reuters import articles

        rows = [
            {
                "id": a["id"],
                "kind": "article",
                "title": a["title"],
                "text": a["text"],
                "tags": a["topics"] + a["places"],
            }
            for a in articles(settings.ensure_home() / "data" / "reuters")
        ]
    elif source == "works":
        from fabula.store.works import WorkStore

        store = WorkStore(settings.db_url)
        rows = [
            {
                "id": w["id"],
                "kind": "work",
                "title": w["prompt"][:120] or w["form"],
                "text": w["text"],
                "tags": [w["form"]],
                "owner": w["owner"],  # a user's work is recommended to them alone
            }
            for w in store.list(limit=10_000)
        ]
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidParam("SOURCE", source, "use ml-100k, reuters, works, or a JSONL file of items")
        try:
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise InvalidParam("SOURCE", source, f"line {exc.lineno} is not JSON: {exc.msg}") from exc
        for number, row in enumerate(rows, 1):
            if not isinstance(row, dict) or not {"id", "kind", "title"} <= set(row):
                raise InvalidParam("SOURCE", source, f"item {number} needs id, kind and title")
    count = _profiles().add_items(rows)
    notice(f"imported {count} items from {source}")


@click.command("recommend")
@click.option("--user", "user_id", required=True)
@click.option("-k", "--top", "k", type=int, default=10, show_default=True)
@click.option("--kind", help="Only items of this kind (article, movie, work, product).")
@click.option("--json", "as_json", is_flag=True, help='{"user", "recommendations": [{"item", "title", "score", ...}]}')
def recommend(user_id: str, k: int, kind: str | None, as_json: bool) -> None:
    """Items for USER from their preferences and history: content, item k-NN and popularity."""
    from fabula.personalize.recommend import recommend as run

    settings = get_settings()
    result = run(_profiles(), user_id, settings.ensure_home(), k, kind)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    for rank, rec in enumerate(result["recommendations"], 1):
        why = f"led by {rec['led_by']}" + (f"; most like {rec['most_like']}" if rec["most_like"] else "")
        click.echo(f"{rank:>2}. {rec['title']}  ({rec['score']:+.2f}, {why})")


@click.command("digest")
@click.option("--user", "user_id", required=True)
@click.option("-k", "--articles", "k", type=click.IntRange(1, 10), default=3, show_default=True)
@click.option("--engine", default=None)
@click.option("--model", default=None)
@click.option("--seed", type=int, default=None)
@click.option("--json", "as_json", is_flag=True)
def digest(user_id: str, k: int, engine: str | None, model: str | None, seed: int | None, as_json: bool) -> None:
    """A news digest for USER: the articles their interests pick, each summarised; saved as a work,
    and the articles marked as viewed so the next digest moves on."""
    from fabula.service.digests import write_digest

    result = write_digest(user_id, k, get_settings(), engine=engine, model=model, seed=seed)
    work, path = result.work, result.copy
    if as_json:
        click.echo(json.dumps(work.to_json(), ensure_ascii=False))
    else:
        click.echo(work.text)
        for entry in work.provenance["digest"]:
            why = entry["why"]
            notice(f"{entry['article']}: led by {why['led_by']}, most like {why['most_like']}")
        notice(f"saved work {work.id} → {path}")
    if not work.passed:  # like `fabula write`: saved, shown, and not passed off as sound
        failed = [e for e in work.provenance["digest"] if not e["passed"]]
        details = "; ".join(f"{e['article']}: {', '.join(e.get('failed', []))}" for e in failed)
        raise Rejected(
            f"digest {work.id} was saved, but {len(failed)} of its summaries failed their checks ({details})"
        )
