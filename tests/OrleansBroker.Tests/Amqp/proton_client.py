"""Qpid Proton's Python binding as an AMQP 1.0 client of the broker, for the tests (run with Debian's /usr/bin/python3).

receive URL USER PASSWORD ADDRESS CREDIT
    Receives for good, printing each message id on a line and accepting it (a message whose body is "reject", as a string or
    UTF-8 data, is rejected); when the connection fails it connects again. Ends when killed.
send URL USER PASSWORD ADDRESS COUNT
    Sends COUNT messages m0..m{COUNT-1}, unsettled, each waited for; prints "sent COUNT", or "refused CONDITION" and exits 3.
"""
import sys
import time

from proton import ConnectionException, LinkException, Message, Timeout
from proton.utils import BlockingConnection, LinkDetached, SendException


def connect(url, user, password):
    return BlockingConnection(url, user=user, password=password, allowed_mechs="PLAIN", timeout=30)


def receive(url, user, password, address, credit):
    while True:
        try:
            connection = connect(url, user, password)
            receiver = connection.create_receiver(address, credit=int(credit))
            while True:
                try:
                    message = receiver.receive(timeout=5)
                except Timeout:
                    continue
                body = message.body
                if isinstance(body, (bytes, memoryview)):
                    body = bytes(body).decode("utf-8", "replace")
                if body == "reject":
                    receiver.reject()
                else:
                    receiver.accept()
                print(message.id, flush=True)
        except (ConnectionException, LinkException, LinkDetached, Timeout, OSError) as error:
            print(f"reconnecting after {type(error).__name__}: {error}", file=sys.stderr, flush=True)
            time.sleep(0.5)


def send(url, user, password, address, count):
    connection = connect(url, user, password)
    try:
        sender = connection.create_sender(address)
        for i in range(int(count)):
            sender.send(Message(id=f"m{i}", body=f"body {i}", subject="proton", properties={"index": i}))
    except (LinkDetached, SendException) as error:
        condition = getattr(error, "condition", None) or getattr(getattr(error, "link", None), "remote_condition", None)
        print(f"refused {getattr(condition, 'name', condition)}", flush=True)
        sys.exit(3)
    finally:
        connection.close()
    print(f"sent {count}", flush=True)


if __name__ == "__main__":
    {"receive": receive, "send": send}[sys.argv[1]](*sys.argv[2:])
