"""The app ``gateway serve`` serves, built from its command-line options.

One function for the two process models: ``gateway serve`` builds the app once in its
own process; with ``--workers N`` the supervising process builds it once to check
every option (nothing is opened before the lifespan starts), and each worker builds
its own from the same options (``gateway.asgi``)::

    app = build_app(args, Path("district/gateway.yaml"), demo_dir=None)

A problem with the options, the configuration or the rules raises ``StartError``
with the one line to print; nothing has been started then.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from starlette.applications import Starlette

__all__ = ["StartError", "build_app"]


class StartError(Exception):
    """The gateway cannot start with these options; the message says why (one line)."""


def build_app(args: argparse.Namespace, config_path: Path, demo_dir: Path | None, *,
              warn: bool = True) -> Starlette:
    """The gateway for the configuration at ``config_path`` with ``gateway serve``'s
    ``args``; ``demo_dir`` is the bundled demo's folder when serving it (GraphiQL's
    examples then ask about its enterprises). ``warn``: print the warnings that do not
    stop the start (missing source files) on standard error."""
    from gateway.app import AppOptions, create_app
    from gateway.config import ConfigError, load_config
    from gateway.cors import check_origin
    from gateway.graphiql_examples import Examples
    from gateway.policy_files import PolicyError
    from gateway.rules_files import RulesError
    from gateway.source_files import missing_files
    from schema.limits import QueryLimits

    try:
        config = load_config(config_path)
    except ConfigError as error:
        raise StartError(str(error)) from None
    if warn:
        for missing in missing_files(config.agencies):  # served, but /readyz answers 503
            print(f"warning: {missing.message(full_path=True)}", file=sys.stderr)
    bad_origins = [problem for problem in map(check_origin, args.cors_origin) if problem]
    if bad_origins:
        raise StartError("\n".join(f"--cors-origin: {problem}" for problem in bad_origins))
    config = dataclasses.replace(config, cors=config.cors.adding(args.cors_origin))
    if args.otlp_endpoint:  # the flag, else $OTEL_EXPORTER_OTLP_ENDPOINT, over tracing:
        if not args.otlp_endpoint.startswith(("http://", "https://")):
            raise StartError(f"--otlp-endpoint: must be an http:// or https:// URL (e.g. "
                             f"http://127.0.0.1:4318), got {args.otlp_endpoint!r}")
        tracing = dataclasses.replace(config.tracing, endpoint=args.otlp_endpoint)
        config = dataclasses.replace(config, tracing=tracing)
    examples = Examples()
    if demo_dir is not None:
        from gateway.demo.examples import demo_examples

        examples = demo_examples(demo_dir)
    try:
        limits = QueryLimits(max_depth=args.max_depth, max_aliases=args.max_aliases,
                             max_tokens=args.max_tokens, max_cost=args.max_cost)
        return create_app(config, AppOptions(graphiql=not args.no_graphiql,
                                             portal=not args.no_portal,
                                             graphiql_examples=examples,
                                             policy_dir=Path(args.policies),
                                             max_body_bytes=args.max_body_bytes,
                                             limits=limits,
                                             redis_url=args.redis_url or None,
                                             response_cache=not args.no_response_cache,
                                             response_cache_bytes=args.response_cache_mb << 20,
                                             rate_limits=not args.no_rate_limits,
                                             access_log=not args.no_audit_log,
                                             demo_keys_anywhere=args.demo_keys_anywhere))
    except ValueError as error:  # limits out of range, a malformed Redis URL, rate_limits.yaml
        raise StartError(f"cannot start: {error}") from None
    except PolicyError as error:
        raise StartError(f"the access policy cannot be used: {error}") from None
    except RulesError as error:
        raise StartError(f"the warning, grade or restriction rules cannot be used: "
                         f"{error}") from None
