"""``podium users …`` and ``podium tokens …``: who may use ``podium up``, kept in the
project's store. They act on the store directly: whoever runs them administers this machine.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from podium import clock
from podium.errors import UsageError
from podium.server import access
from podium.store.database import Database, open_database


def add_users_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = _action(actions, "add", "add a user who logs in to the UI with a password")
    add.add_argument("name", help="the name they log in with")
    add.add_argument(
        "--role", required=True, choices=access.ROLES, help=f"one of {', '.join(access.ROLES)}"
    )
    _password_flag(add)
    listing = _action(actions, "list", "list the users and their roles")
    listing.add_argument("--json", action="store_true", help="print JSON")
    role = _action(actions, "set-role", "change a user's role")
    role.add_argument("name", help="the user's name")
    role.add_argument("role", choices=access.ROLES, help=f"one of {', '.join(access.ROLES)}")
    password = _action(actions, "set-password", "change a user's password (ends their sessions)")
    password.add_argument("name", help="the user's name")
    _password_flag(password)
    remove = _action(actions, "remove", "remove a user, end their sessions, revoke their tokens")
    remove.add_argument("name", help="the user's name")


def add_tokens_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = _action(actions, "create", "create an API token for a user (shown once)")
    create.add_argument(
        "--user", required=True, help="the token acts as this user, with their role"
    )
    create.add_argument("--description", default="", help="what the token is for, e.g. 'CI'")
    listing = _action(actions, "list", "list API tokens (never the tokens themselves)")
    listing.add_argument("--all", action="store_true", help="include revoked tokens")
    listing.add_argument("--json", action="store_true", help="print JSON")
    revoke = _action(actions, "revoke", "revoke an API token by its id (tok_…)")
    revoke.add_argument("id", help="the token's id, tok_… (podium tokens list)")


def cmd_users(args: argparse.Namespace) -> int:
    db = _store(args)
    if args.action == "add":
        return _add_user(db, args)
    if args.action == "list":
        return _list_users(db, args.json)
    if args.action == "set-role":
        access.set_role(db, args.name, args.role)
        print(f"user {args.name} is now {args.role}")
    elif args.action == "set-password":
        access.set_password(db, args.name, _read_password(args.password_stdin))
        print(f"password of {args.name} changed; their UI sessions ended")
    else:
        revoked = access.remove_user(db, args.name, now=clock.time())
        print(f"user {args.name} removed; {revoked} token(s) revoked, sessions ended")
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    db = _store(args)
    if args.action == "create":
        token_id, token = access.create_token(db, args.user, args.description, now=clock.time())
        print(
            f"token {token_id} for {args.user} created; it is shown only now, keep it secret:",
            file=sys.stderr,
        )
        print(token, flush=True)
        print(
            "use it: PODIUM_SERVER=http://HOST:8642 PODIUM_TOKEN=<token> podium runs,"
            " or send 'Authorization: Bearer <token>'",
            file=sys.stderr,
        )
    elif args.action == "list":
        _list_tokens(db, args.all, args.json)
    elif access.revoke_token(db, args.id, now=clock.time()):
        print(f"token {args.id} revoked")
    else:
        print(f"token {args.id} was revoked already")
    return 0


def _add_user(db: Database, args: argparse.Namespace) -> int:
    first = not access.has_users(db)
    password = _read_password(args.password_stdin)
    access.add_user(db, args.name, password, args.role, now=clock.time())
    print(f"user {args.name} added ({args.role})")
    if first:
        print(
            "access control is now on: `podium up` asks for a log-in at /login, API calls"
            " need a token (podium tokens create --user NAME), and --host may be public"
        )
    if not any(u.role == "admin" for u in access.list_users(db)):
        print("note: there is no admin yet; add one with --role admin", file=sys.stderr)
    return 0


def _list_users(db: Database, as_json: bool) -> int:
    users = access.list_users(db)
    if as_json:
        rows = [{"name": u.name, "role": u.role, "created_at": _when(u.created_at)} for u in users]
        print(json.dumps(rows, indent=2))
    elif not users:
        print("no users: podium up runs in local mode (loopback only, no log-in)")
    else:
        print(f"{'USER':<24} {'ROLE':<9} CREATED")
        for u in users:
            print(f"{u.name:<24} {u.role:<9} {_when(u.created_at)}")
    return 0


def _list_tokens(db: Database, include_revoked: bool, as_json: bool) -> None:
    tokens = access.list_tokens(db, include_revoked=include_revoked)
    rows = [
        {
            "id": t.id,
            "user": t.user,
            "description": t.description,
            "created_at": _when(t.created_at),
            "last_used_at": _when(t.last_used_at),
            "revoked_at": _when(t.revoked_at),
        }
        for t in tokens
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print("no API tokens; create one with `podium tokens create --user NAME`")
        return
    print(f"{'ID':<13} {'USER':<16} {'CREATED':<19} {'LAST USED':<19} DESCRIPTION")
    for r in rows:
        state = f" (revoked {r['revoked_at']})" if r["revoked_at"] != "-" else ""
        print(
            f"{r['id']:<13} {r['user']:<16} {r['created_at']:<19} {r['last_used_at']:<19}"
            f" {r['description']}{state}"
        )


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UsageError(
            "no terminal to ask for the password on; pipe it in with --password-stdin,"
            " e.g. `podium users add NAME --role R --password-stdin < password.txt`"
        )
    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        raise UsageError("the two passwords differ; nothing was changed")
    return password


def _store(args: argparse.Namespace) -> Database:
    from podium.project import load_project

    root = Path(args.project).resolve()
    if not root.is_dir():
        raise UsageError(f"--project {args.project}: no such folder")
    project = load_project(root)
    return open_database(project.store_url, project.secrets)


def _action(actions: argparse._SubParsersAction, name: str, help_: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = actions.add_parser(name, help=help_, description=help_)
    p.add_argument(
        "--project",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="the project folder (default: the current folder)",
    )
    return p


def _password_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of asking",
    )


def _when(value: float | None) -> str:
    if value is None:
        return "-"
    return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M:%S")
