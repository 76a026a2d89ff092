"""net_echo: start a loopback server that answers after 60 ms, talk to it, check the reply."""
import socket
import sys
import threading
import time

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0))
srv.listen(1)


def serve():
    conn, _ = srv.accept()
    with conn:
        data = conn.recv(1024)
        time.sleep(0.060)
        conn.sendall(b"ack:" + data)


threading.Thread(target=serve, daemon=True).start()
with socket.create_connection(srv.getsockname(), timeout=5) as c:
    c.sendall(b"ping")
    reply = c.recv(1024)
print("received", reply)
sys.exit(0 if reply == b"ack:ping" else 1)
