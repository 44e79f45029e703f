"""The real AWS CLI (v1, from PyPI, in its own venv: .venv-awscli), kept warm in one process.

An AWS CLI process takes a second or two to start (it loads every service's model): far too slow
for the dozens of calls an instance's scripts make in the aws layer. This server runs the CLI's
own driver (`awscli.clidriver`, the code behind the `aws` command) for each request instead, so
the scripts under test call the real CLI, with its argument parsing, `--query`, text output and
waiters, through `tests/aws/cli/aws` on their PATH.

    python server.py SOCKET    (run with .venv-awscli/bin/python; AWS_* from the environment)

Requests are one JSON object per connection ({"argv": [...], "cwd": "..."}); the answer is
{"rc": N, "stdout": "...", "stderr": "..."}. One call at a time (the driver is not thread-safe).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import sys
import threading


def main(path: str) -> None:
    from awscli.clidriver import create_clidriver

    driver = create_clidriver()
    # Load what the instance's scripts use before the first call is timed.
    for service in ("ec2", "ssm", "s3"):
        driver.session.get_service_model(service)
    lock = threading.Lock()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(16)
    print("ready", flush=True)

    def serve(conn: socket.socket) -> None:
        with conn:
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            request = json.loads(data)
            out, err = io.StringIO(), io.StringIO()
            with lock:
                cwd = os.getcwd()
                try:
                    os.chdir(request.get("cwd") or cwd)
                    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                        try:
                            rc = driver.main(request["argv"])
                        except SystemExit as exit_:
                            rc = exit_.code if isinstance(exit_.code, int) else 1
                finally:
                    os.chdir(cwd)
            answer = {"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue()}
            conn.sendall(json.dumps(answer).encode())

    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1])
