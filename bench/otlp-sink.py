"""An OTLP/HTTP endpoint that takes every export and keeps nothing: what traces cost api-proxy in
bench/run.sh's observability scenario and bench/callgrind.sh's OBSERVABILITY=tracing_on.

    python3 bench/otlp-sink.py PORT
"""
import http.server
import sys


class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
