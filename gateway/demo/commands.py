"""``gateway demo generate`` and ``gateway demo serve-agencies``: a generated district,
served end to end.

A generated district is files (SQLite, CSV folders, JSON rows) and a configuration
whose two HTTP agencies, COURT and FIRE, point at ``--http-base-url``.
``serve-agencies`` serves those rows there, so the district runs in two terminals::

    gateway demo generate --out district --enterprises 100000
    gateway demo serve-agencies --data-dir district --port 9001
    gateway serve --config district/gateway.yaml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gateway.demo.generate import AGENCIES, MIN_ENTERPRISES

__all__ = ["add_demo_commands"]

HTTP_AGENCIES = tuple(agency.code.lower() for agency in AGENCIES if agency.kind == "http")
DEFAULT_AGENCIES_PORT = 9001


def add_demo_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``demo generate`` and ``demo serve-agencies`` under ``commands``."""
    demo = commands.add_parser("demo", help="demo data: generate a district, serve its "
                                            "HTTP agencies")
    demo_commands = demo.add_subparsers(dest="demo_command", required=True)
    generate = demo_commands.add_parser(
        "generate",
        help="generate a synthetic district (files and its configuration)")
    generate.add_argument("--out", required=True,
                          help="folder to write (new, empty, or a district written before)")
    generate.add_argument("--enterprises", type=int, default=2000,
                          help="how many enterprises")
    generate.add_argument("--seed", type=int, default=20261123,
                          help="the same seed and size always give the same rows")
    generate.add_argument("--http-base-url",
                          default=f"http://127.0.0.1:{DEFAULT_AGENCIES_PORT}",
                          help="where the HTTP agencies COURT and FIRE will be served "
                               "(<url>/court, <url>/fire): 'gateway demo serve-agencies' "
                               "serves them there")
    generate.set_defaults(run=_generate)
    serve = demo_commands.add_parser(
        "serve-agencies",
        help="serve a generated district's HTTP agencies (COURT, FIRE) for its configuration")
    serve.add_argument("--data-dir", required=True,
                       help="the folder 'gateway demo generate --out' wrote")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (the agencies answer with every field, "
                            "NOT_OPEN ones included: keep them on loopback)")
    serve.add_argument("--port", type=int, default=DEFAULT_AGENCIES_PORT,
                       help="port to listen on (the port of --http-base-url)")
    serve.set_defaults(run=_serve_agencies)


def _generate(args: argparse.Namespace) -> int:
    from gateway.demo.generate import generate_district
    from gateway.demo.writer import GENERATED_DISTRICT, generate_refusal, write_demo

    out = Path(args.out)
    base = urlsplit(args.http_base_url)
    if base.scheme not in ("http", "https") or not base.hostname:
        print(f"--http-base-url {args.http_base_url}: must be an http:// or https:// URL",
              file=sys.stderr)
        return 2
    if args.enterprises < MIN_ENTERPRISES:
        print(f"--enterprises must be at least {MIN_ENTERPRISES} (the showcase and one "
              f"enterprise per warning level, grade and restriction outcome)", file=sys.stderr)
        return 2
    refusal = generate_refusal(out)
    if refusal is not None:
        print(refusal, file=sys.stderr)
        return 2
    district = generate_district(seed=args.seed, enterprises=args.enterprises)
    config = write_demo(district, out, http_base_url=args.http_base_url,
                        made_as=GENERATED_DISTRICT)
    print(f"wrote {args.enterprises} enterprises to {out} (config {config})")
    print("serve it in two terminals (the agencies first):")
    if base.scheme == "http" and base.path.strip("/") == "":
        port = base.port or 80
        host = "" if base.hostname == "127.0.0.1" else f" --host {base.hostname}"
        print(f"  gateway demo serve-agencies --data-dir {out}{host} --port {port}")
    else:
        print(f"  (serve COURT at {args.http_base_url.rstrip('/')}/court and FIRE at "
              f"{args.http_base_url.rstrip('/')}/fire: see 'gateway demo serve-agencies')")
    print(f"  gateway serve --config {config}")
    return 0


def _serve_agencies(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.demo.agency_service import create_sources_app, load_rows
    from gateway.listen_check import listen_problem

    folder = Path(args.data_dir)
    files = {name: folder / f"{name}.json" for name in HTTP_AGENCIES}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        print(f"{folder} is not a generated district: {', '.join(missing)} missing (write "
              f"one with 'gateway demo generate --out {folder}')", file=sys.stderr)
        return 2
    try:
        rows = {name: load_rows(path) for name, path in files.items()}
    except (OSError, ValueError) as error:
        print(f"cannot read the agencies' rows: {error}", file=sys.stderr)
        return 2
    problem = listen_problem(args.host, args.port)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    url = f"http://{args.host}:{args.port}"
    print(f"COURT at {url}/court, FIRE at {url}/fire (Ctrl-C stops them)", file=sys.stderr)
    uvicorn.run(create_sources_app(rows), host=args.host, port=args.port, log_level="warning")
    return 0
