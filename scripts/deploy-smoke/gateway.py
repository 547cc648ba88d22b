"""A fake SMS gateway for the deployment smoke: the provider's API as the
platform's http provider speaks it (POST /v2/send.json, GET /v2/status),
outside the platform as the real one is. Each message id it accepts is
written to OUT, one a line; a message id it has seen answers 400
DOUBLE_SEND_ERROR, as the real gateway does for a repeated custom id.

    python3 gateway.py PORT OUT
"""

import http.server
import json
import sys
import threading

port, out = int(sys.argv[1]), sys.argv[2]
seen = set()
lock = threading.Lock()


class Gateway(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ids = [m["id"] for m in body.get("messages", [])]
        with lock:
            if any(i in seen for i in ids):
                self.answer(400, "DOUBLE_SEND_ERROR")
                return
            seen.update(ids)
            with open(out, "a") as f:
                for i in ids:
                    f.write(i + "\n")
        self.answer(200, str(len(seen)))

    def do_GET(self):
        self.answer(200, "[]")

    def answer(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), Gateway).serve_forever()
