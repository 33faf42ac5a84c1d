"""The ``gateway`` command: serve, check a configuration or the data, make keys, generate
and serve demo districts; ``audit`` (``gateway.audit_cli``), ``policy``
(``gateway.policy_cli``), ``inspectors`` (``gateway.inspectors_cli``) and ``draw``
(``gateway.draw_cli``) are registered from their own modules."""

from __future__ import annotations

import argparse
import logging
import logging.config
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from gateway.platform_store.settings import PlatformSettings

__all__ = ["configure_logging", "main"]

DEFAULT_DEMO_DIR = Path(".demo-data")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.listen_check import listen_problem
    from gateway.logs import logging_config
    from gateway.serve_app import StartError, build_app

    if args.workers < 1:
        print(f"--workers: at least 1, got {args.workers}", file=sys.stderr)
        return 2
    # JSON lines (or text) from here on, uvicorn's own lines too (gateway.logs); with
    # workers each line says which process wrote it
    log_config = logging_config(args.log_format, args.log_level, pid=args.workers > 1)
    logging.config.dictConfig(log_config)
    busy = listen_problem(args.host, args.port)  # said first, before anything is prepared
    if busy is not None:
        print(busy, file=sys.stderr)
        return 2
    demo = None
    if args.config is None:
        from gateway.demo_mode import DemoDirError, prepare_demo

        # the demo's HTTP agencies get their own port on 127.0.0.1, never this listener
        try:
            demo = prepare_demo(Path(args.demo_dir))
        except DemoDirError as error:
            print(f"cannot start: {error}", file=sys.stderr)
            return 2
        config_path = demo.config_path
        print(f"demo data in {demo.data_dir} (config {config_path})", file=sys.stderr)
        if args.host not in ("127.0.0.1", "::1", "localhost") and not args.demo_keys_anywhere:
            print(f"listening on {args.host}: the demo's published keys are accepted only "
                  f"from this machine (--demo-keys-anywhere lifts that)", file=sys.stderr)
    else:
        config_path = Path(args.config)
    try:
        app = build_app(args, config_path, None if demo is None else demo.data_dir)
    except StartError as error:
        print(error, file=sys.stderr)
        return 2
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(f"GraphiQL: http://{shown}:{args.port}/graphql", file=sys.stderr)
    if not args.no_portal:
        print(f"Portal (公示查询): http://{shown}:{args.port}/portal", file=sys.stderr)
    if args.workers > 1:
        from gateway.workers import serve_workers

        return serve_workers(args, config_path, demo, log_config)
    served = app if demo is None else demo.agencies.around(app)
    uvicorn.run(served, host=args.host, port=args.port, log_level=args.log_level,
                log_config=log_config, access_log=args.access_log, loop=args.loop)
    return 0


def _check_config(args: argparse.Namespace) -> int:
    import asyncio

    from gateway.config import ConfigError, load_config
    from gateway.source_files import missing_files

    if args.file is not None and args.config is not None and args.file != args.config:
        print("gateway check-config: give the configuration once, with --config FILE",
              file=sys.stderr)
        return 2
    if args.file is not None:
        print(f"note: 'gateway check-config FILE' is deprecated; use 'gateway check-config "
              f"--config {args.file}'", file=sys.stderr)
    path = args.config or args.file
    if path is None:
        print("gateway check-config: error: the following arguments are required: --config "
              "FILE (see 'gateway check-config --help')", file=sys.stderr)
        return 2
    try:
        config = load_config(Path(path))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    missing = missing_files(config.agencies)
    for problem in missing:
        print(f"{path}: {problem.message(full_path=True)}", file=sys.stderr)
    if missing:
        return 1
    print(f"{path}: OK - {len(config.agencies)} agencies, "
          f"{len(config.principals)} principals, registry {config.registry.code}")
    platform_problem = asyncio.run(_platform_problem(config.platform))
    if platform_problem is not None:
        print(f"{path}: {platform_problem}", file=sys.stderr)
        return 1
    print(f"platform database: {config.platform.shown()} (can be written)")
    return 0


async def _platform_problem(settings: PlatformSettings) -> str | None:
    from gateway.platform_store.store import open_store

    store = open_store(settings)
    try:
        return await store.check()
    finally:
        await store.aclose()


def _check_data(args: argparse.Namespace) -> int:
    import asyncio

    from connectors.errors import SourceError, SourceUnsupported
    from gateway.config import command_config
    from gateway.runtime import open_runtime

    config = command_config(args.config)
    if config is None:
        return 2

    async def scan() -> int:
        runtime = open_runtime(config, policies=None)  # reads sources, serves nothing
        failed = 0
        try:
            for connector in runtime.sources.all():
                for record_type in connector.spec.provides:
                    try:
                        records = await connector.scan(record_type)
                    except SourceUnsupported as error:
                        print(f"{connector.code} {record_type}: skipped ({error.reason})")
                        continue
                    except SourceError as error:
                        print(f"{connector.code} {record_type}: not checked ({error.reason})")
                        failed += 1
                        continue
                    print(f"{connector.code} {record_type}: {len(records)} records")
        finally:
            await runtime.aclose()
        for problem in runtime.problems.problems():
            print(f"problem: {problem}")
        return 1 if failed or len(runtime.problems) else 0

    return asyncio.run(scan())


def _keys_new(args: argparse.Namespace) -> int:
    import yaml

    from connectors.credit_code import credit_code_problem
    from gateway.callers import hash_key, new_key
    from gateway.config import PURPOSES, ROLES

    purposes = [p.strip() for p in args.purposes.split(",") if p.strip()] if args.purposes else []
    problems = [f"unknown purpose {p!r} (known: {', '.join(PURPOSES)})"
                for p in purposes if p not in PURPOSES]
    if args.role not in ROLES:
        problems.append(f"unknown role {args.role!r} (roles: {', '.join(ROLES)})")
    if args.role in ("department", "supervisor") and not args.agency:
        problems.append(f"--agency is required for role {args.role}")
    if args.role == "public":
        problems.append("the public role needs no key: callers without one are public")
    if (args.role == "enterprise") != bool(args.credit_code):
        problems.append("--credit-code is required for role enterprise, and only for it")
    elif args.credit_code and (problem := credit_code_problem(args.credit_code)) is not None:
        problems.append(f"--credit-code {args.credit_code!r}: {problem}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    key = new_key()
    entry: dict[str, object] = {"id": args.id or f"{args.role}-{key[4:12].lower()}",
                                "key_sha256": hash_key(key), "role": args.role}
    if args.agency:
        entry["agency"] = args.agency
    if args.credit_code:
        entry["credit_code"] = args.credit_code
    entry["purposes"] = purposes
    print(f"API key (shown once; give it to the caller, keep it secret):\n  {key}\n")
    print("Add this to the principals: section of the configuration:")
    print(yaml.safe_dump([entry], sort_keys=False, default_flow_style=None, allow_unicode=True))
    return 0


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's help ends with its default, unless the default says nothing (no
    value, a switch that is off, an empty list)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = action.default
        if default is None or default is False or default == [] or default == "":
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """The gateway's parsers: every command's ``--help`` shows the defaults (the
    subcommands' parsers are made of this class too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """A bad argument is one line (argparse would print the whole usage first)."""
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("regulatory-graph")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    from gateway.demo.commands import add_demo_commands
    from gateway.policy_cli import add_policy_commands
    from policies import policy_dir
    from schema.limits import QueryLimits

    parser = _Parser(
        prog="gateway", description="Enterprise regulatory graph: a GraphQL gateway."
    )
    parser.add_argument("--version", action="version", version=f"gateway {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="serve the graph (the bundled demo when no --config is given)"
    )
    serve.add_argument("--config", help="configuration file (YAML); default: the demo")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (0.0.0.0: every interface)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--demo-dir", default=str(DEFAULT_DEMO_DIR),
                       help="where the bundled demo's data is generated (once); a folder "
                            "with other files in it is refused, never overwritten")
    serve.add_argument("--demo-keys-anywhere", action="store_true",
                       help="accept the demo's published keys (demo-admin-key, ...) from "
                            "any client; without it they work only from this machine")
    serve.add_argument("--no-graphiql", action="store_true", help="do not serve GraphiQL")
    serve.add_argument("--no-portal", action="store_true",
                       help="do not serve the public portal page (公示查询, /portal)")
    serve.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                       help="let pages of this origin call the gateway from a browser, "
                            "e.g. https://portal.example.gov.cn or http://localhost:* "
                            "(repeatable; added to the configuration's cors: allow_origins)")
    serve.add_argument("--policies",
                       default=os.environ.get("GATEWAY_POLICIES") or str(policy_dir()),
                       help="folder of the rules (model.conf, policy.csv, fields.yaml, ...): "
                            "$GATEWAY_POLICIES when set, else the rules bundled with the "
                            "package")
    serve.add_argument("--redis-url", default=os.environ.get("GATEWAY_REDIS_URL"),
                       help="share the source record cache in Redis, e.g. "
                            "redis://127.0.0.1:6379/0 (default: $GATEWAY_REDIS_URL; "
                            "unset: an in-process cache)")
    defaults = QueryLimits()
    serve.add_argument("--max-depth", type=int, default=defaults.max_depth,
                       help="deepest field nesting of a query (QUERY_TOO_DEEP)")
    serve.add_argument("--max-aliases", type=int, default=defaults.max_aliases,
                       help="most aliased fields in a query (TOO_MANY_ALIASES)")
    serve.add_argument("--max-tokens", type=int, default=defaults.max_tokens,
                       help="most tokens in the query text (QUERY_TOO_LARGE)")
    serve.add_argument("--max-cost", type=int, default=defaults.max_cost,
                       help="highest estimated cost: fields x list sizes (QUERY_TOO_COSTLY)")
    serve.add_argument("--no-response-cache", action="store_true",
                       help="do not keep complete answers for callers repeating a query")
    serve.add_argument("--response-cache-mb", type=int, default=64,
                       help="the answer cache's bound in MiB (answers, their keys and "
                            "headers, and a fixed overhead per answer); the least recently "
                            "used go first")
    serve.add_argument("--no-rate-limits", action="store_true",
                       help="do not limit requests per caller (the limits per role are in "
                            "the policies folder's rate_limits.yaml; HTTP 429 over them)")
    serve.add_argument("--no-audit-log", action="store_true",
                       help="keep no access log (留痕): only to measure what it costs; a "
                            "deployment without it leaves no trace of who read what")
    serve.add_argument("--max-body-bytes", type=int, default=1 << 20,
                       help="largest request body (REQUEST_TOO_LARGE, HTTP 413)")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes sharing the port, each with its own "
                            "connectors and answer cache; give --redis-url so they share "
                            "the record cache and rate limits")
    serve.add_argument("--loop", default="asyncio", choices=("asyncio", "uvloop"),
                       help="the event loop: asyncio's (default) or uvloop. Measured on "
                            "the benchmark (README, Performance): uvloop answered cached "
                            "answers ~8%% faster but uncached queries ~13%% slower, and "
                            "kept some connections waiting seconds under load")
    serve.add_argument("--log-level", default="info", choices=LOG_LEVELS,
                       help="how much the server logs")
    serve.add_argument("--log-format", default="json", choices=("json", "text"),
                       help="log lines as JSON objects (one per line) or as text for humans")
    serve.add_argument("--access-log", action="store_true",
                       help="also log uvicorn's own line per HTTP request (the gateway "
                            "logs one per request on gateway.access anyway)")
    serve.add_argument("--otlp-endpoint", default=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
                       metavar="URL",
                       help="send traces over OTLP/HTTP to this collector, e.g. "
                            "http://127.0.0.1:4318 (needs the otel extra; default: "
                            "$OTEL_EXPORTER_OTLP_ENDPOINT, else the configuration's tracing:)")
    serve.set_defaults(run=_serve)

    check = commands.add_parser(
        "check-config", help="validate a configuration file: every problem, the sources' "
                             "files, the platform database; exit 1 if any")
    check.add_argument("--config", help="the configuration file (YAML)")
    check.add_argument("file", nargs="?", help=argparse.SUPPRESS)  # deprecated: use --config
    check.set_defaults(run=_check_config)

    from gateway.audit_cli import add_audit_commands

    add_audit_commands(commands)

    data = commands.add_parser(
        "check-data", help="read every listable source and report rows that break the standard"
    )
    data.add_argument("--config", required=True, help="the configuration file (YAML)")
    data.set_defaults(run=_check_data)

    keys = commands.add_parser("keys", help="API keys for principals")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    key_new = key_commands.add_parser(
        "new", help="print a new API key once, and the configuration entry with its hash"
    )
    key_new.add_argument("--role", required=True,
                         help="department | approval | auditor | admin | enterprise")
    key_new.add_argument("--agency", help="the caller's own agency code (departments)")
    key_new.add_argument("--credit-code",
                         help="the enterprise an enterprise key is bound to (异议 · 信用修复)")
    key_new.add_argument("--purposes", default="",
                         help="comma-separated purposes the caller may declare")
    key_new.add_argument("--id", help="principal id (default: role and a key fragment)")
    key_new.set_defaults(run=_keys_new)

    add_demo_commands(commands)
    add_policy_commands(commands)
    from gateway.draw_cli import add_draw_commands
    from gateway.inspectors_cli import add_inspectors_commands

    add_inspectors_commands(commands)
    add_draw_commands(commands)
    from gateway.webhooks_cli import add_webhooks_commands

    add_webhooks_commands(commands)
    return parser


def configure_logging(level: str) -> None:
    """The commands' logging: INFO lines, without the libraries' chatter (``level`` is
    ``--log-level``; debug and trace let it through)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per source call is noise
    # casbin logs its whole model and policy at INFO each time an enforcer is built
    verbose = level in ("debug", "trace")
    logging.getLogger("casbin").setLevel(logging.DEBUG if verbose else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(getattr(args, "log_level", "info"))
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
