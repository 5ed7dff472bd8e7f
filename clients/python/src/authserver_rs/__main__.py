"""`authserver-rs publish MANIFEST`: push a manifest from a shell or a container's start-up."""

from __future__ import annotations

import argparse
import os
import sys

from authserver_rs.errors import AuthserverError
from authserver_rs.introspection import ClientCredentials
from authserver_rs.manifest import publish_manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="authserver-rs")
    commands = parser.add_subparsers(dest="command", required=True)
    publish = commands.add_parser(
        "publish",
        help="push a service manifest; reads AUTHSERVER_ISSUER, AUTHSERVER_CLIENT_ID and "
        "AUTHSERVER_CLIENT_SECRET",
    )
    publish.add_argument("manifest")
    publish.add_argument("--prune-assignments", action="store_true")
    publish.add_argument("--retry-for", type=float, default=60.0, help="seconds (default 60)")
    args = parser.parse_args(argv)
    try:
        credentials = ClientCredentials(
            os.environ["AUTHSERVER_CLIENT_ID"], os.environ["AUTHSERVER_CLIENT_SECRET"]
        )
        publish_manifest(
            args.manifest,
            issuer=os.environ["AUTHSERVER_ISSUER"],
            credentials=credentials,
            prune_assignments=args.prune_assignments,
            retry_for=args.retry_for,
        )
    except KeyError as missing:
        print(f"authserver-rs: {missing.args[0]} is not set", file=sys.stderr)
        return 2
    except (AuthserverError, OSError, ValueError) as error:
        print(f"authserver-rs: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
