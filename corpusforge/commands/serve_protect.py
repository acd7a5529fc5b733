"""`corpusforge serve-protect`: a local web page to protect photos (corpusforge.webapp; issue 18)."""
from __future__ import annotations

import argparse
import logging

log = logging.getLogger("corpusforge.webapp")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from corpusforge.unlearnable.frozen import DEFAULT_CHECKPOINT, DEFAULT_MODEL

    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this computer "
                        "only; anything else exposes the page to your network)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--checkpoint", help=f"surrogate weights (default {DEFAULT_CHECKPOINT})")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"architecture of --checkpoint (default {DEFAULT_MODEL})")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: available cores)")


def run(args: argparse.Namespace) -> int:
    from corpusforge.unlearnable import frozen
    from corpusforge.unlearnable.clip import limit_threads
    from corpusforge.webapp.server import App, make_server

    limit_threads(args.threads)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("binding to %s: anyone who can reach this address can use the page", args.host)
    server = make_server(App(frozen.load_frozen(args.checkpoint, args.model)), args.host, args.port)
    host, port = server.server_address[:2]
    print(f"serving on http://{'localhost' if host == '127.0.0.1' else host}:{port}/  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
